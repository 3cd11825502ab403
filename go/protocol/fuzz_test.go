package protocol

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"testing"
)

// Run for real with, e.g.:
//
//	go test -run='^$' -fuzz='^FuzzDecodeResponse$' -fuzztime=5m ./go/protocol
//
// FuzzDecodeRequestV2 and FuzzDecodeResponseV2 are the same checks for the
// decoders serving versions 1..2 (Versions12).
//
// Seeds: every shared vector of the matching decoder, plus a few encoded
// messages (so the targets work before any vector exists).

func FuzzDecodeResponse(f *testing.F) {
	seeds := []Message{
		&GenerateResponse{RequestID: 1, Status: 200, GenerationTimeMS: 5, Width: 2, Height: 2, Channels: 3, Pixels: make([]byte, 12), Seed: 9, HasSeed: true},
		&GenerateResponse{RequestID: 1, Status: 200, Width: 1, Height: 1, Channels: 4, Pixels: []byte{1, 2, 3, 4}},
		&StatusResponse{RequestID: 2, Status: 200, VersionMin: 1, VersionMax: 1, Backend: "procedural", DaemonVersion: "0.1.0"},
		NewErrorResponse(3, CodeInvalidDimensions, "width 100 is not a multiple of 64"),
	}
	fuzzDecoder(f, "response", Versions1, seeds)
}

// FuzzDecodeResponseV2 is the response decoder serving versions 1..2.
func FuzzDecodeResponseV2(f *testing.F) {
	seeds := []Message{
		&SHMGenerateResponse{RequestID: 1, Status: 200, Width: 2, Height: 2, Channels: 3, ImageSize: 12, Seed: 9},
		&Queued{RequestID: 2, Position: 1, QueueDepth: 3},
		&Progress{RequestID: 3, Step: 1, Steps: 28, ElapsedMS: 350},
		&Heartbeat{RequestID: 4, Phase: PhaseRunning, ElapsedMS: 500},
		&StatusResponse{Version: Version2, RequestID: 5, Status: 200, VersionMin: 1, VersionMax: 2, Backend: "procedural",
			DaemonVersion: "0.2.0", V2: &StatusV2{DaemonPID: 7, Features: FlagProgress | FlagSHM, BackendState: BackendLoaded, LastCrash: "backend crashed (SIGSEGV)"}},
		&StatusResponse{Version: Version2, RequestID: 8, Status: 200, VersionMin: 1, VersionMax: 2, Backend: "procedural",
			DaemonVersion: "0.2.0", V2: &StatusV2{DaemonPID: 7, BackendState: BackendLoaded, WorkerPID: 9,
				Generations: 42, GenerationUS: 329412345, HasGenerations: true}},
		&GenerateResponse{Version: Version2, RequestID: 6, Status: 200, Width: 1, Height: 1, Channels: 3, Pixels: []byte{1, 2, 3}},
		&ErrorResponse{Version: Version2, RequestID: 7, Status: 500, Code: CodeGPU, Message: "backend crashed (SIGSEGV)"},
	}
	fuzzDecoder(f, "response", Versions12, seeds)
}

func FuzzDecodeRequest(f *testing.F) {
	seeds := []Message{
		NewGenerateRequest(1, "a cat in space", 512, 512, 28, 7, 0),
		&GenerateRequest{RequestID: 2, Width: 64, Height: 64, Steps: 1, ClipL: "a", ClipG: "\u00e9\u00e9", T5: "\U0001F431"},
		&StatusRequest{RequestID: 3},
	}
	fuzzDecoder(f, "request", Versions1, seeds)
}

// FuzzDecodeRequestV2 is the request decoder serving versions 1..2.
func FuzzDecodeRequestV2(f *testing.F) {
	wide := NewGenerateOptionsRequest(5, "a cat in space", 2048, 2048, 4, 7, 0, FlagSHM|FlagProgress)
	seeds := []Message{
		NewGenerateOptionsRequest(1, "a cat in space", 512, 512, 28, 7, 0, FlagProgress),
		wide,
		&GenerateRequest{Version: Version2, RequestID: 2, Width: 64, Height: 64, Steps: 1, ClipL: "a", ClipG: "b", T5: "c"},
		&StatusRequest{Version: Version2, RequestID: 3},
	}
	fuzzDecoder(f, "request", Versions12, seeds)
}

func fuzzDecoder(f *testing.F, decoder string, vs Versions, seeds []Message) {
	decode := vs.DecodeResponse
	if decoder == "request" {
		decode = vs.DecodeRequest
	}
	for _, m := range seeds {
		b, err := Encode(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, v := range loadVectors(f) {
		if v.Decoder == decoder && v.versions() == vs {
			f.Add(v.Bytes)
		}
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		m, err := decode(msg)
		if err != nil {
			if m != nil {
				t.Fatalf("both a message and an error: %#v, %v", m, err)
			}
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error is %T, not *Error: %v", err, err)
			}
			// Every decode failure is the client's fault (400) with a known code.
			if !pe.Code.Known() || pe.Code == CodeNone || pe.Status() != StatusBadRequest {
				t.Fatalf("decode error with code %d status %d: %v", pe.Code, pe.Status(), err)
			}
			if !errors.Is(err, Sentinel(pe.Code)) {
				t.Fatalf("error %v does not match its sentinel", err)
			}
			// The echoed request_id is 0 or the payload's first 8 bytes.
			if pe.RequestID != 0 && (len(msg) < HeaderSize+8 || pe.RequestID != binary.BigEndian.Uint64(msg[HeaderSize:])) {
				t.Fatalf("request_id %d is not from the payload", pe.RequestID)
			}
			return
		}
		switch m.(type) {
		case *GenerateRequest, *StatusRequest, *GenerateOptionsRequest:
			if decoder != "request" {
				t.Fatalf("response decoder returned %T", m)
			}
		case *GenerateResponse, *StatusResponse, *ErrorResponse,
			*SHMGenerateResponse, *Queued, *Progress, *Heartbeat:
			if decoder != "response" {
				t.Fatalf("request decoder returned %T", m)
			}
		default:
			t.Fatalf("unexpected type %T", m)
		}
		// ReadMessage frames the same message.
		framed, err := vs.ReadMessage(bytes.NewReader(msg), 0)
		if err != nil {
			t.Fatalf("decodes but ReadMessage fails: %v", err)
		}
		if !bytes.Equal(framed, msg[:len(framed)]) {
			t.Fatalf("ReadMessage changed the bytes")
		}
		// A decoded value re-encodes to a message that decodes to it.
		enc, err := Encode(m)
		if err != nil {
			t.Fatalf("re-encode %#v: %v", m, err)
		}
		back, err := decode(enc)
		if err != nil {
			t.Fatalf("re-encoded message does not decode: %v\n%x", err, enc)
		}
		if !reflect.DeepEqual(normalize(m), normalize(back)) {
			t.Fatalf("roundtrip changed the value:\n%#v\n%#v", m, back)
		}
		// The encoder is canonical: encoding the decoded value again is stable.
		enc2, err := Encode(back)
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not stable: %v", err)
		}
		// The header version survives: the re-encoding is in the same
		// version as the message.
		if enc[4] != msg[4] || enc[5] != msg[5] {
			t.Fatalf("re-encoded in version %d, message was version %d", int(enc[4])<<8|int(enc[5]), int(msg[4])<<8|int(msg[5]))
		}
	})
}
