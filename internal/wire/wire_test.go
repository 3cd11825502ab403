package wire

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
)

// unhex reads hex written with spaces for readability.
func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func exampleRequest() GenerateRequest {
	r := GenerateRequest{Header: NewHeader(TypeGenerateRequest), RequestID: 1, Width: 512, Height: 512,
		Steps: 28, CfgBits: 0x40E00000}
	r.SetPrompts("a cat in space", "a cat in space", "a cat in space")
	return r
}

// TestEncodeKnownMessages: whole messages, byte for byte, against bytes
// written out by hand from SPEC.md (the first is the SPEC's 118-byte worked
// example, proto_spec/testdata/request_example_118.vec).
func TestEncodeKnownMessages(t *testing.T) {
	tests := []struct {
		name string
		m    *Msg
		want string
	}{
		{"generate request, SPEC section 4 worked example (118 bytes)", exampleRequest().Msg(), `
			57455645 0001 0001 00000066 00000000
			0000000000000001 00000000 00000200 00000200 0000001c 40e00000 0000000000000000
			00000000 0000000e 0000000e 0000000e 0000001c 0000000e
			612063617420696e207370616365 612063617420696e207370616365 612063617420696e207370616365`},
		{"status request", NewStatusRequest(0x0102030405060708).Msg(), `
			57455645 0001 0003 00000008 00000000
			0102030405060708`},
		{"status request with a wrong header and trailing bytes",
			StatusRequest{Header: Header{Magic: 0x57455646, Version: 2, Type: 0x1234, PayloadLen: 102, Reserved: 7},
				RequestID: 9, Trailing: []byte{0xAA}}.Msg(), `
			57455646 0002 1234 00000066 00000007
			0000000000000009 aa`},
		{"generate response 1x1 RGB with seed", GenerateResponse{Header: NewHeader(TypeGenerateResponse), RequestID: 5,
			Status: StatusOK, GenTimeMS: 1234, Width: 1, Height: 1, Channels: 3, ImageDataLen: -1,
			Image: []byte{1, 2, 3}, HasSeed: true, Seed: 42}.Msg(), `
			57455645 0001 0002 0000002b 00000000
			0000000000000005 000000c8 000004d2 00000001 00000001 00000003 00000003
			010203 000000000000002a`},
		{"generate response, image_data_len overridden, no seed", GenerateResponse{Header: NewHeader(TypeGenerateResponse),
			Width: 2, Height: 2, Channels: 3, ImageDataLen: 12}.Msg(), `
			57455645 0001 0002 00000020 00000000
			0000000000000000 00000000 00000000 00000002 00000002 00000003 0000000c`},
		{"error reply 400/6", ErrorReply{Header: NewHeader(TypeError), RequestID: 5, Status: StatusOf(ErrInvalidSteps),
			Code: ErrInvalidSteps, MsgLen: -1, Message: "boom"}.Msg(), `
			57455645 0001 00ff 00000016 00000000
			0000000000000005 00000190 00000006 0004 626f6f6d`},
		{"status response (resp_ok_status.vec)", StatusResponse{Header: NewHeader(TypeStatusResponse), RequestID: 7,
			Status: StatusOK, VersionMin: 1, VersionMax: 1, UptimeMS: 86400123, RequestsServed: 4242, ConnsOpen: 1,
			MaxConns: 64, BackendLen: -1, Backend: "procedural", DaemonVersionLen: -1, DaemonVersion: "0.1.0"}.Msg(), `
			57455645 0001 0004 0000003f 00000000
			0000000000000007 000000c8 0001 0001 0000000005265c7b 0000000000001092
			00000001 00000040 00000000 000a 70726f6365647572616c 0005 302e312e30`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkKnown(t, tt.m, tt.want)
		})
	}
	if n := exampleRequest().Msg().Size(); n != 118 {
		t.Fatalf("the worked example is %d bytes, want 118", n)
	}
}

// checkKnown: m is, byte for byte, the hex want (spaces for readability).
func checkKnown(t *testing.T, m *Msg, want string) []byte {
	t.Helper()
	w := unhex(t, want)
	if got := m.Bytes(); !bytes.Equal(got, w) {
		t.Fatalf("got  %x\nwant %x", got, w)
	}
	if m.Size() != len(w) {
		t.Fatalf("Size() %d, want %d", m.Size(), len(w))
	}
	return w
}

// offsetCase: the field of msg starts at off.
type offsetCase struct {
	msg   *Msg
	field string
	off   int
}

func checkOffsets(t *testing.T, tests []offsetCase) {
	t.Helper()
	for _, tt := range tests {
		got, ok := tt.msg.Offset(tt.field)
		if !ok {
			t.Errorf("no field %q", tt.field)
			continue
		}
		if got != tt.off {
			t.Errorf("%s at %d, the constant says %d", tt.field, got, tt.off)
		}
	}
}

// sizeCase: a size the builders make (got) against its constant.
type sizeCase struct {
	name      string
	got, want int
}

func checkSizes(t *testing.T, sizes []sizeCase) {
	t.Helper()
	for _, s := range sizes {
		if s.got != s.want {
			t.Errorf("%s: %d bytes, constant %d", s.name, s.got, s.want)
		}
	}
}

// TestOffsets: the offset constants name where the builders put each field,
// so code that reads or pokes raw bytes by offset agrees with the builders.
func TestOffsets(t *testing.T) {
	req := exampleRequest()
	gen := GenerateResponse{Header: NewHeader(TypeGenerateResponse), ImageDataLen: -1, Image: []byte{1}, HasSeed: true}
	er := ErrorReply{Header: NewHeader(TypeError), MsgLen: -1, Message: "m"}
	st := StatusResponse{Header: NewHeader(TypeStatusResponse), BackendLen: -1, DaemonVersionLen: -1}
	tests := []offsetCase{
		{req.Msg(), "header magic", OffMagic},
		{req.Msg(), "header version", OffVersion},
		{req.Msg(), "header msg_type", OffType},
		{req.Msg(), "header payload_len", OffPayloadLen},
		{req.Msg(), "header reserved", OffReserved},
		{req.Payload(), "request_id", GenReqRequestID},
		{req.Payload(), "model_id", GenReqModelID},
		{req.Payload(), "width", GenReqWidth},
		{req.Payload(), "height", GenReqHeight},
		{req.Payload(), "steps", GenReqSteps},
		{req.Payload(), "cfg_scale (f32 bits 0x40E00000)", GenReqCfgScale},
		{req.Payload(), "seed", GenReqSeed},
		{req.Payload(), "clip_l_offset", GenReqClipLOff},
		{req.Payload(), "clip_l_len", GenReqClipLLen},
		{req.Payload(), "clip_g_offset", GenReqClipGOff},
		{req.Payload(), "clip_g_len", GenReqClipGLen},
		{req.Payload(), "t5_offset", GenReqT5Off},
		{req.Payload(), "t5_len", GenReqT5Len},
		{req.Payload(), "prompt_data (42 bytes)", GenReqFixedSize},
		{gen.Payload(), "request_id", GenRespRequestID},
		{gen.Payload(), "status", GenRespStatus},
		{gen.Payload(), "generation_time_ms", GenRespGenTimeMS},
		{gen.Payload(), "image_width", GenRespWidth},
		{gen.Payload(), "image_height", GenRespHeight},
		{gen.Payload(), "channels", GenRespChannels},
		{gen.Payload(), "image_data_len", GenRespImageDataLen},
		{gen.Payload(), "image_data (1 bytes)", GenRespFixedSize},
		{gen.Payload(), "seed (extension)", GenRespFixedSize + 1},
		{er.Payload(), "request_id", ErrRespRequestID},
		{er.Payload(), "status", ErrRespStatus},
		{er.Payload(), "error_code", ErrRespCode},
		{er.Payload(), "msg_len", ErrRespMsgLen},
		{er.Payload(), `message "m"`, ErrRespFixedSize},
		{NewStatusRequest(1).Msg(), "request_id", HeaderSize + StatusReqRequestID},
		{st.Payload(), "request_id", StatusRespRequestID},
		{st.Payload(), "status", StatusRespStatus},
		{st.Payload(), "version_min", StatusRespVersionMin},
		{st.Payload(), "version_max", StatusRespVersionMax},
		{st.Payload(), "uptime_ms", StatusRespUptimeMS},
		{st.Payload(), "requests_served", StatusRespRequestsServed},
		{st.Payload(), "connections_open", StatusRespConnsOpen},
		{st.Payload(), "max_connections", StatusRespMaxConns},
		{st.Payload(), "queue_depth", StatusRespQueueDepth},
		{st.Payload(), "backend_len", StatusRespBackendLen},
	}
	checkOffsets(t, tests)
	sizes := []sizeCase{
		{"generate request fixed part", GenerateRequest{}.Payload().Size(), GenReqFixedSize},
		{"generate response fixed part", GenerateResponse{ImageDataLen: -1}.Payload().Size(), GenRespFixedSize},
		{"error reply fixed part", ErrorReply{MsgLen: -1}.Payload().Size(), ErrRespFixedSize},
		{"status request", NewStatusRequest(0).Msg().Size() - HeaderSize, StatusReqSize},
		{"status response fixed part", StatusResponse{BackendLen: -1, DaemonVersionLen: -1}.Payload().Size(), StatusRespFixedSize},
		{"header", Frame(NewHeader(0), &Msg{}).Size(), HeaderSize},
		{"prompt slot stride", GenReqClipGOff - GenReqClipLOff, GenReqSlotStride},
	}
	checkSizes(t, sizes)
}

func TestParseHeader(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want Header
		err  bool
	}{
		{"status request", NewStatusRequest(3).Msg().Bytes(), Header{Magic: Magic, Version: 1, Type: TypeStatusRequest, PayloadLen: 8}, false},
		{"every field distinct", unhex(t, "01020304 0506 0708 ffffffff 0a0b0c0d"),
			Header{Magic: 0x01020304, Version: 0x0506, Type: 0x0708, PayloadLen: 0xFFFFFFFF, Reserved: 0x0a0b0c0d}, false},
		{"15 bytes", make([]byte, 15), Header{}, true},
		{"empty", nil, Header{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseHeader(tt.in)
			if (err != nil) != tt.err {
				t.Fatalf("err %v, want error %v", err, tt.err)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestCut(t *testing.T) {
	m := NewStatusRequest(0x0102030405060708).Msg()
	tests := []struct {
		n         int
		lastField string
	}{
		{0, ""},
		{4, "header magic"},
		{5, "header version (cut: 1 of 2 bytes)"},
		{16, "header reserved"},
		{20, "request_id (cut: 4 of 8 bytes)"},
		{24, "request_id"},
	}
	for _, tt := range tests {
		c := m.Cut(tt.n)
		if c.Size() != tt.n || !bytes.Equal(c.Bytes(), m.Bytes()[:tt.n]) {
			t.Errorf("Cut(%d): %x", tt.n, c.Bytes())
		}
		last := ""
		if len(c.Fields) > 0 {
			last = c.Fields[len(c.Fields)-1].Name
		}
		if last != tt.lastField {
			t.Errorf("Cut(%d): last field %q, want %q", tt.n, last, tt.lastField)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("Cut past the end did not panic")
		}
	}()
	m.Cut(25)
}

// TestStatusOf: the status column of the SPEC section 6 table.
func TestStatusOf(t *testing.T) {
	want := map[uint32]uint32{1: 400, 2: 400, 3: 400, 4: 400, 5: 400, 6: 400, 7: 400, 8: 500, 9: 500,
		10: 500, 11: 400, 12: 400, 13: 400, 14: 500, 99: 500}
	for code, st := range want {
		if got := StatusOf(code); got != st {
			t.Errorf("StatusOf(%d) = %d, want %d", code, got, st)
		}
	}
}
