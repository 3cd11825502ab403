package wire

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// vecTestdata is proto_spec/testdata seen from this package's directory:
// the source tree under go test, the runfiles tree under Bazel (the
// go_test's data).
var vecTestdata = filepath.Join("..", "..", "proto_spec", "testdata")

// vecBytes is the message of a vector file: its "hex:" lines, in order.
func vecBytes(t *testing.T, name string) []byte {
	t.Helper()
	f, err := os.Open(filepath.Join(vecTestdata, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var hexText strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "hex:") {
			hexText.WriteString(strings.TrimSpace(strings.TrimPrefix(line, "hex:")))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if hexText.Len() == 0 {
		t.Fatalf("%s: no hex lines", name)
	}
	return unhex(t, hexText.String())
}

func exampleOptReq(flags uint32) GenerateOptionsRequest {
	g := exampleRequest()
	g.Header = NewHeaderV2(TypeGenerateOptions)
	return GenerateOptionsRequest{GenerateRequest: g, Flags: flags}
}

func exampleStatusV2() StatusResponseV2 {
	return StatusResponseV2{
		StatusResponse: StatusResponse{Header: NewHeaderV2(TypeStatusResponse), RequestID: 7, Status: StatusOK,
			VersionMin: 1, VersionMax: 2, UptimeMS: 86400123, RequestsServed: 4242, ConnsOpen: 1, MaxConns: 64,
			BackendLen: -1, Backend: "procedural", DaemonVersionLen: -1, DaemonVersion: "0.1.0"},
		DaemonPID: 4321, Features: FeatureProgress | FeatureSHM, BackendState: BackendRestarting,
		WorkerRestarts: 2, LastCrashLen: -1, LastCrash: "backend crashed (SIGSEGV)",
	}
}

// exampleStatusV2Generations is exampleStatusV2 with SPEC 11.6's optional
// pair: 42 images in 329412345 us.
func exampleStatusV2Generations() StatusResponseV2 {
	st := exampleStatusV2()
	st.HasGenerations, st.Generations, st.GenerationUS = true, 42, 329412345
	return st
}

// TestEncodeKnownV2Messages: each version-2 layout, byte for byte, against
// bytes written out by hand from SPEC section 11 and against the vector
// file that holds the same message.
func TestEncodeKnownV2Messages(t *testing.T) {
	tests := []struct {
		vec  string
		m    *Msg
		want string
	}{
		{"req_v2_ok_options_example.vec", exampleOptReq(0).Msg(), `
			57455645 0002 0005 0000006e 00000000
			0000000000000001 00000000 00000000
			00000000 00000200 00000200 0000001c 40e00000 0000000000000000
			00000000 0000000e 0000000e 0000000e 0000001c 0000000e
			612063617420696e207370616365 612063617420696e207370616365 612063617420696e207370616365`},
		{"resp_v2_ok_shm_2x2_rgb.vec", SHMGenerateResponse{Header: NewHeaderV2(TypeSHMResponse), RequestID: 1,
			Status: StatusOK, GenTimeMS: 1234, Width: 2, Height: 2, Channels: 3, ImageSize: 12,
			Seed: 0x0123456789ABCDEF}.Msg(), `
			57455645 0002 0006 0000002c 00000000
			0000000000000001 000000c8 000004d2 00000002 00000002 00000003 000000000000000c 0123456789abcdef`},
		{"resp_v2_ok_queued_3_of_5.vec", Queued{Header: NewHeaderV2(TypeQueued), RequestID: 0x0102030405060708,
			Position: 3, QueueDepth: 5}.Msg(), `
			57455645 0002 0010 00000010 00000000
			0102030405060708 00000003 00000005`},
		{"resp_v2_ok_progress_first.vec", Progress{Header: NewHeaderV2(TypeProgress), RequestID: 1,
			Step: 1, Steps: 28, ElapsedMS: 350}.Msg(), `
			57455645 0002 0011 00000014 00000000
			0000000000000001 00000001 0000001c 0000015e`},
		{"resp_v2_ok_heartbeat_queued.vec", Heartbeat{Header: NewHeaderV2(TypeHeartbeat), RequestID: 1,
			Phase: PhaseQueued, ElapsedMS: 500}.Msg(), `
			57455645 0002 0012 00000010 00000000
			0000000000000001 00000001 000001f4`},
		{"resp_v2_ok_status_crashed.vec", exampleStatusV2().Msg(), `
			57455645 0002 0004 00000070 00000000
			0000000000000007 000000c8 0001 0002 0000000005265c7b 0000000000001092
			00000001 00000040 00000000 000a 70726f6365647572616c 0005 302e312e30
			000010e1 00000003 0003 00000000 00000002 00000000
			0019 6261636b656e64206372617368656420285349475345475629`},
		{"resp_v2_ok_status_generations_crashed.vec", exampleStatusV2Generations().Msg(), `
			57455645 0002 0004 00000080 00000000
			0000000000000007 000000c8 0001 0002 0000000005265c7b 0000000000001092
			00000001 00000040 00000000 000a 70726f6365647572616c 0005 302e312e30
			000010e1 00000003 0003 00000000 00000002 00000000
			0019 6261636b656e64206372617368656420285349475345475629
			000000000000002a 0000000013a26ef9`},
	}
	for _, tt := range tests {
		t.Run(tt.vec, func(t *testing.T) {
			want := checkKnown(t, tt.m, tt.want)
			if file := vecBytes(t, tt.vec); !bytes.Equal(file, want) {
				t.Fatalf("%s holds %x\nthe SPEC says  %x", tt.vec, file, want)
			}
		})
	}
}

// TestV2Offsets: the version-2 offset constants name where the builders put
// each field, as TestOffsets does for version 1.
func TestV2Offsets(t *testing.T) {
	opt := exampleOptReq(FlagSHM).Payload()
	shm := SHMGenerateResponse{}.Payload()
	q := Queued{}.Payload()
	pr := Progress{}.Payload()
	hb := Heartbeat{}.Payload()
	st := exampleStatusV2()
	x := StatusV2X(len(st.Backend), len(st.DaemonVersion))
	stp := st.Payload()
	gen := exampleStatusV2Generations()
	y := StatusV2Y(len(gen.Backend), len(gen.DaemonVersion), len(gen.LastCrash))
	genp := gen.Payload()
	tests := []offsetCase{
		{opt, "request_id", OptReqRequestID},
		{opt, "flags (0x00000002)", OptReqFlags},
		{opt, "reserved", OptReqReserved},
		{opt, "model_id", OptReqModelID},
		{opt, "width", OptReqWidth},
		{opt, "height", OptReqHeight},
		{opt, "steps", OptReqSteps},
		{opt, "cfg_scale (f32 bits 0x40E00000)", OptReqCfgScale},
		{opt, "seed", OptReqSeed},
		{opt, "clip_l_offset", OptReqClipLOff},
		{opt, "clip_l_len", OptReqClipLLen},
		{opt, "clip_g_offset", OptReqClipGOff},
		{opt, "clip_g_len", OptReqClipGLen},
		{opt, "t5_offset", OptReqT5Off},
		{opt, "t5_len", OptReqT5Len},
		{opt, "prompt_data (42 bytes)", OptReqFixedSize},
		{shm, "request_id", SHMRespRequestID},
		{shm, "status", SHMRespStatus},
		{shm, "generation_time_ms", SHMRespGenTimeMS},
		{shm, "image_width", SHMRespWidth},
		{shm, "image_height", SHMRespHeight},
		{shm, "channels", SHMRespChannels},
		{shm, "image_size", SHMRespImageSize},
		{shm, "seed", SHMRespSeed},
		{q, "request_id", QueuedRequestID},
		{q, "position", QueuedPosition},
		{q, "queue_depth", QueuedQueueDepth},
		{pr, "request_id", ProgressRequestID},
		{pr, "step", ProgressStep},
		{pr, "steps", ProgressSteps},
		{pr, "elapsed_ms", ProgressElapsedMS},
		{hb, "request_id", HeartbeatRequestID},
		{hb, "phase", HeartbeatPhase},
		{hb, "elapsed_ms", HeartbeatElapsedMS},
		{stp, "daemon_pid", x + StatusV2DaemonPID},
		{stp, "features", x + StatusV2Features},
		{stp, "backend_state", x + StatusV2BackendState},
		{stp, "worker_pid", x + StatusV2WorkerPID},
		{stp, "worker_restarts", x + StatusV2WorkerRestarts},
		{stp, "jobs_running", x + StatusV2JobsRunning},
		{stp, "last_crash_len", x + StatusV2LastCrashLen},
		{stp, `last_crash "backend crashed (SIGSEGV)"`, x + StatusV2FixedSize},
		{genp, "generations", y + StatusV2Generations},
		{genp, "generation_us", y + StatusV2GenerationUS},
	}
	checkOffsets(t, tests)
	emptyStatus := StatusResponseV2{StatusResponse: StatusResponse{BackendLen: -1, DaemonVersionLen: -1}, LastCrashLen: -1}
	sizes := []sizeCase{
		{"0x0005 fixed part", GenerateOptionsRequest{}.Payload().Size(), OptReqFixedSize},
		{"0x0005 fixed part is section 4's plus the shift", OptReqFixedSize - GenReqFixedSize, OptReqShift},
		{"0x0006", shm.Size(), SHMRespSize},
		{"queued", q.Size(), QueuedSize},
		{"progress", pr.Size(), ProgressSize},
		{"heartbeat", hb.Size(), HeartbeatSize},
		{"version-2 status appended fixed part", emptyStatus.Payload().Size() - StatusRespFixedSize, StatusV2FixedSize},
		{"version-2 status X", x, StatusRespFixedSize + len("procedural") + len("0.1.0")},
		{"whole version-2 status payload", stp.Size(), x + StatusV2FixedSize + len(st.LastCrash)},
		{"version-2 status Y is the end of last_crash", y, stp.Size()},
		{"the generations pair", genp.Size() - stp.Size(), StatusV2GenerationsSize},
		{"the generations pair is two u64s", StatusV2GenerationUS + 8, StatusV2GenerationsSize},
		{"0x0005 prompt slot stride", OptReqClipGOff - OptReqClipLOff, OptReqSlotStride},
	}
	checkSizes(t, sizes)
}

// TestV2HeaderAndTrailing: NewHeaderV2 is NewHeader with version 2, and
// every v2 layout puts its Trailing bytes last (the status reply's after
// last_crash, its embedded v1 Trailing before daemon_pid).
func TestV2HeaderAndTrailing(t *testing.T) {
	h := NewHeaderV2(TypeProgress)
	if want := (Header{Magic: Magic, Version: 2, Type: TypeProgress, PayloadLen: -1}); h != want {
		t.Fatalf("NewHeaderV2: %+v, want %+v", h, want)
	}
	tail := []byte{0xEE, 0xFF}
	st := exampleStatusV2()
	st.StatusResponse.Trailing = []byte{0xAB}
	st.Trailing = tail
	gen := exampleStatusV2Generations()
	gen.Trailing = tail
	for _, m := range []*Msg{
		gen.Payload(),
		SHMGenerateResponse{Trailing: tail}.Payload(),
		Queued{Trailing: tail}.Payload(),
		Progress{Trailing: tail}.Payload(),
		Heartbeat{Trailing: tail}.Payload(),
		st.Payload(),
	} {
		b := m.Bytes()
		if !bytes.HasSuffix(b, tail) || m.Fields[len(m.Fields)-1].Name != "bytes after the known fields (ignored)" {
			t.Errorf("%x does not end with the trailing bytes field", b)
		}
	}
	p := st.Payload()
	x := StatusV2X(len(st.Backend), len(st.DaemonVersion))
	if b := p.Bytes(); b[x] != 0xAB {
		t.Errorf("the embedded status response's Trailing is not at X (%d): %x", x, b[x:])
	}
	if off, _ := p.Offset("daemon_pid"); off != x+1 {
		t.Errorf("daemon_pid at %d after one embedded trailing byte, want %d", off, x+1)
	}
	// Trailing comes after the generations pair.
	gp := gen.Payload()
	if off, _ := gp.Offset("generation_us"); off+8 != gp.Size()-len(tail) {
		t.Errorf("generation_us at %d does not end where the trailing bytes start (%d)", off, gp.Size()-len(tail))
	}
	// Without HasGenerations the pair is not laid out, whatever its values.
	off := exampleStatusV2()
	off.Generations, off.GenerationUS = 1, 2
	if !bytes.Equal(off.Payload().Bytes(), exampleStatusV2().Payload().Bytes()) {
		t.Error("the pair laid out without HasGenerations")
	}
}
