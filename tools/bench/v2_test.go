package main

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
)

func unhexT(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestOptionsRequestBytes: the bench's 0x0005 request, byte for byte
// against proto_spec/testdata/req_v2_ok_options_progress.vec (the same
// request with seed 0 and request_id 1).
func TestOptionsRequestBytes(t *testing.T) {
	want := unhexT(t, `57455645 0002 0005 0000006e 00000000
		0000000000000001 00000001 00000000 00000000 00000200 00000200 0000001c 40e00000 0000000000000000
		00000000 0000000e 0000000e 0000000e 0000001c 0000000e
		612063617420696e207370616365612063617420696e207370616365612063617420696e207370616365`)
	got := optionsRequest(1, 512, 28, flagProgress)
	// The bench's seed (42) at the seed offset: 16 (header) + 36.
	if s := be.Uint64(got[headerSize+36:]); s != benchSeed {
		t.Fatalf("seed %d, want %d", s, benchSeed)
	}
	be.PutUint64(got[headerSize+36:], 0)
	if !bytes.Equal(got, want) {
		t.Fatalf("got  %x\nwant %x", got, want)
	}
	if st := statusRequestV2(9); len(st) != 24 || be.Uint16(st[4:]) != 2 || be.Uint16(st[6:]) != typeStatus {
		t.Fatalf("status request v2: %x", st)
	}
}

// TestParseStatusV2 reads proto_spec/testdata/resp_v2_ok_status_crashed.vec
// and refuses what a daemon before version 2 answers.
func TestParseStatusV2(t *testing.T) {
	msg := unhexT(t, `57455645 0002 0004 00000070 00000000
		0000000000000007 000000c8 0001 0002 0000000005265c7b 0000000000001092 00000001 00000040 00000000
		000a 70726f6365647572616c 0005 302e312e30
		000010e1 00000003 0003 00000000 00000002 00000000 0019 6261636b656e64206372617368656420285349475345475629`)
	st, err := parseStatusV2(msg)
	if err != nil {
		t.Fatal(err)
	}
	want := statusV2{VersionMax: 2, DaemonVersion: "0.1.0", DaemonPID: 4321, Features: 3, BackendState: 3,
		WorkerRestarts: 2, LastCrash: "backend crashed (SIGSEGV)"}
	if *st != want {
		t.Fatalf("got %+v\nwant %+v", *st, want)
	}
	for _, cut := range []int{len(msg) - 1, len(msg) - 26} {
		short := append([]byte(nil), msg[:cut]...)
		be.PutUint32(short[8:], uint32(cut-headerSize))
		if _, err := parseStatusV2(short); err == nil {
			t.Errorf("a reply cut at %d bytes was accepted", cut)
		}
	}
	// A daemon that speaks version 1 only: error 2 in a version-1 header.
	e := unhexT(t, `57455645 0001 00ff 00000012 00000000 0000000000000000 00000190 00000002 0000`)
	if _, err := parseStatusV2(e); err == nil || !strings.Contains(err.Error(), "400/2") {
		t.Fatalf("error reply: %v", err)
	}
	// The v1 status reply (no appended fields) is not a v2 one.
	if _, err := parseStatusV2(synthStatusReply(1)); err == nil {
		t.Fatal("a version-1 status reply was accepted")
	}
}

func TestNotSupported(t *testing.T) {
	v := &v2Support{Why: "error reply 400/2"}
	if got := v.notSupported("shm"); !strings.HasPrefix(got, "not supported by this daemon: no protocol version 2") {
		t.Fatal(got)
	}
	v = &v2Support{V2: true, Progress: true}
	if got := v.notSupported("cancel"); got != "not supported by this daemon: no --step-delay-ms in its --help" {
		t.Fatal(got)
	}
}
