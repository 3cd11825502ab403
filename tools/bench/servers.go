package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
)

// The HTTP/1.1 and gRPC servers run as separate processes (the bench binary
// re-executed with --serve), like weave-compute and floor_server, so their
// memory is measured on its own and they do not share a Go runtime with the
// load generator.

const maxGRPCMessage = 16 << 20

// rawCodec passes []byte through unchanged: no protobuf, no protoc. gRPC
// still frames, compresses (not configured here) and multiplexes as usual.
type rawCodec struct{}

func (rawCodec) Marshal(v interface{}) ([]byte, error) {
	switch m := v.(type) {
	case *[]byte:
		return *m, nil
	case []byte:
		return m, nil
	}
	return nil, fmt.Errorf("rawCodec: cannot marshal %T", v)
}

func (rawCodec) Unmarshal(data []byte, v interface{}) error {
	p, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("rawCodec: cannot unmarshal into %T", v)
	}
	*p = data
	return nil
}

func (rawCodec) Name() string { return "weave-raw" }

func init() { encoding.RegisterCodec(rawCodec{}) }

const grpcMethod = "/weave.bench.Bench/Call"

type grpcBench struct{ rt *replyTable }

func grpcCallHandler(srv interface{}, ctx context.Context, dec func(interface{}) error, _ grpc.UnaryServerInterceptor) (interface{}, error) {
	var in []byte
	if err := dec(&in); err != nil {
		return nil, err
	}
	reply := srv.(*grpcBench).rt.pick(in)
	if reply == nil {
		return nil, errors.New("no reply for this request")
	}
	return &reply, nil
}

// grpcServiceDesc is what protoc-gen-go-grpc would generate for
// `service Bench { rpc Call(bytes) returns (bytes); }`.
var grpcServiceDesc = grpc.ServiceDesc{
	ServiceName: "weave.bench.Bench",
	HandlerType: (*interface{})(nil),
	Methods:     []grpc.MethodDesc{{MethodName: "Call", Handler: grpcCallHandler}},
	Streams:     []grpc.StreamDesc{},
	Metadata:    "tools/bench (hand-written descriptor)",
}

func loadReplyTable(files []string) (*replyTable, error) {
	rt := &replyTable{}
	for _, f := range files {
		head, b, err := mapFile(f)
		if err != nil {
			return nil, err
		}
		if err := rt.addMapped(head, b); err != nil {
			return nil, fmt.Errorf("%s: %v", f, err)
		}
	}
	if rt.status == nil {
		return nil, errors.New("no status reply given")
	}
	return rt, nil
}

// mapFile maps a reply file read-only, as floor_server does, after reading
// its first bytes with ReadAt so the mapping itself is not touched: its
// pages count in VmRSS only once they were sent, so the idle RSS is the
// server's own.
func mapFile(path string) (head, data []byte, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if st.Size() < headerSize+20 {
		return nil, nil, fmt.Errorf("%s: too short", path)
	}
	head = make([]byte, headerSize+20)
	if _, err := f.ReadAt(head, 0); err != nil {
		return nil, nil, err
	}
	data, err = syscall.Mmap(int(f.Fd()), 0, int(st.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	return head, data, err
}

// serve runs one server until SIGTERM/SIGINT: kind is "http" or "grpc".
func serve(kind, sockPath string, replyFiles []string) error {
	rt, err := loadReplyTable(replyFiles)
	if err != nil {
		return err
	}
	_ = os.Remove(sockPath)
	ln, err := net.Listen("unix", sockPath)
	if err != nil {
		return err
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	switch kind {
	case "http":
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			reply := rt.pick(body)
			if reply == nil {
				http.Error(w, "no reply for this request", http.StatusBadRequest)
				return
			}
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Content-Length", strconv.Itoa(len(reply)))
			_, _ = w.Write(reply)
		})}
		go func() { <-sig; _ = srv.Close() }()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	case "grpc":
		srv := grpc.NewServer(
			grpc.ForceServerCodec(rawCodec{}),
			grpc.MaxRecvMsgSize(maxGRPCMessage),
			grpc.MaxSendMsgSize(maxGRPCMessage),
		)
		srv.RegisterService(&grpcServiceDesc, &grpcBench{rt: rt})
		go func() { <-sig; srv.Stop() }()
		if err := srv.Serve(ln); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown server kind %q", kind)
	}
	return nil
}
