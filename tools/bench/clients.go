package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/weave-app/weave/go/client"
	"github.com/weave-app/weave/go/protocol"
)

// workload is one request shape, the same bytes for every contestant.
type workload struct {
	name      string
	req       []byte // the request message
	replyType uint16
	replyLen  int    // expected reply message size in bytes
	side      uint32 // generate requests: width = height
}

// rtInfo is what a round trip reports besides its duration.
type rtInfo struct {
	genMS     uint32        // generation_time_ms in the reply (generate only)
	firstByte time.Duration // start to first reply byte; 0 when the client cannot tell
}

// roundTripper sends one request of w and waits for the whole reply.
type roundTripper interface {
	roundTrip(w *workload) (rtInfo, error)
	close()
}

// --- Go raw-socket client: net.Dial, Write, ReadFull, Close -------------

type rawGoClient struct{ path string }

func (c *rawGoClient) roundTrip(w *workload) (rtInfo, error) {
	t0 := time.Now()
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: c.path, Net: "unix"})
	if err != nil {
		return rtInfo{}, err
	}
	defer conn.Close()
	if _, err := conn.Write(w.req); err != nil {
		return rtInfo{}, err
	}
	var hdr [headerSize]byte
	if _, err := io.ReadFull(conn, hdr[:]); err != nil {
		return rtInfo{}, err
	}
	first := time.Since(t0)
	n := payloadLen(hdr[:])
	if n > maxPayloadLen {
		return rtInfo{}, errors.New("reply too large")
	}
	msg := make([]byte, headerSize+int(n))
	copy(msg, hdr[:])
	if _, err := io.ReadFull(conn, msg[headerSize:]); err != nil {
		return rtInfo{}, err
	}
	g, err := checkReply(msg, w.replyType, w.replyLen)
	return rtInfo{genMS: g, firstByte: first}, err
}

func (c *rawGoClient) close() {}

// --- Go client on blocking syscalls (no net package, no netpoller) ----------
//
// Attribution only: what a Go client can reach with the same five syscalls
// as floor_client (socket, connect, write, read, close), the goroutine's
// thread simply blocking in read.

type goSysClient struct{ addr syscall.SockaddrUnix }

func (c *goSysClient) roundTrip(w *workload) (rtInfo, error) {
	t0 := time.Now()
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return rtInfo{}, err
	}
	defer syscall.Close(fd)
	if err := syscall.Connect(fd, &c.addr); err != nil {
		return rtInfo{}, err
	}
	for off := 0; off < len(w.req); {
		n, err := syscall.Write(fd, w.req[off:])
		if err != nil {
			if err == syscall.EINTR {
				continue
			}
			return rtInfo{}, err
		}
		off += n
	}
	var hdr [headerSize]byte
	var first time.Duration
	readFull := func(b []byte) error {
		for off := 0; off < len(b); {
			n, err := syscall.Read(fd, b[off:])
			if err != nil {
				if err == syscall.EINTR {
					continue
				}
				return err
			}
			if n == 0 {
				return io.ErrUnexpectedEOF
			}
			if first == 0 {
				first = time.Since(t0)
			}
			off += n
		}
		return nil
	}
	if err := readFull(hdr[:]); err != nil {
		return rtInfo{}, err
	}
	n := payloadLen(hdr[:])
	if n > maxPayloadLen {
		return rtInfo{}, errors.New("reply too large")
	}
	msg := make([]byte, headerSize+int(n))
	copy(msg, hdr[:])
	if err := readFull(msg[headerSize:]); err != nil {
		return rtInfo{}, err
	}
	g, err := checkReply(msg, w.replyType, w.replyLen)
	return rtInfo{genMS: g, firstByte: first}, err
}

func (c *goSysClient) close() {}

// --- this project: go/client ---------------------------------------------

type weaveClient struct {
	c   *client.Client
	ctx context.Context
	gen map[uint32]*protocol.GenerateRequest
}

func newWeaveClient(path string) (*weaveClient, error) {
	c, err := client.New(client.WithSocketPath(path))
	if err != nil {
		return nil, err
	}
	return &weaveClient{c: c, ctx: context.Background(), gen: map[uint32]*protocol.GenerateRequest{}}, nil
}

func (c *weaveClient) roundTrip(w *workload) (rtInfo, error) {
	switch w.replyType {
	case typeStResp:
		st, err := c.c.Status(c.ctx)
		if err != nil {
			return rtInfo{}, err
		}
		if st.Status != 200 {
			return rtInfo{}, fmt.Errorf("status %d", st.Status)
		}
		return rtInfo{}, nil
	case typeGenResp:
		req := c.gen[w.side]
		if req == nil {
			// RequestID 0: the client assigns one, as an application would.
			req = protocol.NewGenerateRequest(0, benchPrompt, w.side, w.side, benchSteps, benchCFG, benchSeed)
			c.gen[w.side] = req
		}
		// Large replies: GenerateInto with a recycled buffer, as an
		// application looping over large requests would (no fresh 10 MB
		// slice per reply). Small ones: Generate.
		var resp *protocol.GenerateResponse
		var err error
		if w.replyLen > 1<<20 {
			buf := replyBufs.Get().(*[]byte)
			defer replyBufs.Put(buf)
			resp, err = c.c.GenerateInto(c.ctx, req, *buf)
		} else {
			resp, err = c.c.Generate(c.ctx, req)
		}
		if err != nil {
			return rtInfo{}, err
		}
		if resp.Width != w.side || resp.Height != w.side || len(resp.Pixels) != int(w.side*w.side*3) {
			return rtInfo{}, fmt.Errorf("got a %dx%dx%d image", resp.Width, resp.Height, resp.Channels)
		}
		return rtInfo{genMS: resp.GenerationTimeMS}, nil
	}
	return rtInfo{}, errors.New("unsupported workload")
}

func (c *weaveClient) close() {}

// replyBufs holds reply buffers for GenerateInto, one per concurrent
// request.
var replyBufs = sync.Pool{New: func() interface{} {
	b := make([]byte, protocol.MaxMessageSize)
	return &b
}}

// weaveClient is used from several goroutines: the request map is filled
// up front so roundTrip only reads it.
func (c *weaveClient) prepare(ws []*workload) {
	for _, w := range ws {
		if w.replyType == typeGenResp {
			c.gen[w.side] = protocol.NewGenerateRequest(0, benchPrompt, w.side, w.side, benchSteps, benchCFG, benchSeed)
		}
	}
}

// --- HTTP/1.1 over the Unix socket (net/http both sides) ------------------

type httpClient struct {
	hc *http.Client
	tr *http.Transport
}

func newHTTPClient(path string, keepAlive bool) *httpClient {
	var d net.Dialer
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "unix", path)
		},
		DisableKeepAlives:   !keepAlive,
		DisableCompression:  true,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     time.Minute,
	}
	return &httpClient{hc: &http.Client{Transport: tr}, tr: tr}
}

func (c *httpClient) roundTrip(w *workload) (rtInfo, error) {
	req, err := http.NewRequest(http.MethodPost, "http://weave/call", bytes.NewReader(w.req))
	if err != nil {
		return rtInfo{}, err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := c.hc.Do(req)
	if err != nil {
		return rtInfo{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		return rtInfo{}, fmt.Errorf("HTTP %s", resp.Status)
	}
	if resp.ContentLength < 0 || resp.ContentLength > 16<<20 {
		return rtInfo{}, fmt.Errorf("HTTP Content-Length %d", resp.ContentLength)
	}
	msg := make([]byte, resp.ContentLength)
	if _, err := io.ReadFull(resp.Body, msg); err != nil {
		return rtInfo{}, err
	}
	g, err := checkReply(msg, w.replyType, w.replyLen)
	return rtInfo{genMS: g}, err
}

func (c *httpClient) close() { c.tr.CloseIdleConnections() }

// --- gRPC over the Unix socket (one ClientConn, HTTP/2 multiplexed) -------

type grpcClient struct{ conn *grpc.ClientConn }

func newGRPCClient(path string) (*grpcClient, error) {
	conn, err := grpc.Dial("unix://"+path,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{}), grpc.MaxCallRecvMsgSize(maxGRPCMessage), grpc.MaxCallSendMsgSize(maxGRPCMessage)),
	)
	if err != nil {
		return nil, err
	}
	return &grpcClient{conn: conn}, nil
}

func (c *grpcClient) roundTrip(w *workload) (rtInfo, error) {
	in := w.req
	var out []byte
	if err := c.conn.Invoke(context.Background(), grpcMethod, &in, &out); err != nil {
		return rtInfo{}, err
	}
	g, err := checkReply(out, w.replyType, w.replyLen)
	return rtInfo{genMS: g}, err
}

func (c *grpcClient) close() { _ = c.conn.Close() }

// --- runners ---------------------------------------------------------------

// runResult is one measured run (one round of one workload for one
// contestant).
type runResult struct {
	ok, fail int
	elapsed  time.Duration
	lat      []int64  // ns, successful requests
	gen      []uint32 // generation_time_ms reported, parallel to lat
	genUS    float64  // the daemon's exact mean generation time (0: unknown)
	first    []int64  // ns to the first reply byte (0: unknown), parallel to lat
	firstErr string
}

// loadSpec says how long a run lasts: a fixed count, or a fixed time.
type loadSpec struct {
	iterations  int
	duration    time.Duration
	concurrency int
	warmup      int // per worker, not measured
	// onWarm, when set, runs once between the warm-up and the measured
	// requests (e.g. to read the daemon's counters).
	onWarm func()
	// pauseUS: floor_client spins this long before each request
	// (floor_client --pause-us; C clients only).
	pauseUS int64
}

func runGo(rt roundTripper, w *workload, ls loadSpec) runResult {
	type workerOut struct {
		lat      []int64
		gen      []uint32
		first    []int64
		fail     int
		firstErr string
	}
	outs := make([]workerOut, ls.concurrency)
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	var deadline time.Time
	ready.Add(ls.concurrency)
	done.Add(ls.concurrency)
	for i := 0; i < ls.concurrency; i++ {
		n := 0
		if ls.iterations > 0 {
			n = ls.iterations / ls.concurrency
			if i < ls.iterations%ls.concurrency {
				n++
			}
			if n == 0 {
				n = 1
			}
		}
		go func(o *workerOut, n int) {
			defer done.Done()
			for j := 0; j < ls.warmup; j++ {
				_, _ = rt.roundTrip(w)
			}
			capHint := n
			if capHint == 0 {
				capHint = 4096
			}
			o.lat = make([]int64, 0, capHint)
			o.gen = make([]uint32, 0, capHint)
			o.first = make([]int64, 0, capHint)
			ready.Done()
			<-start
			for j := 0; n == 0 || j < n; j++ {
				t0 := time.Now()
				if n == 0 && !t0.Before(deadline) {
					break
				}
				info, err := rt.roundTrip(w)
				d := time.Since(t0)
				if err != nil {
					if o.fail == 0 {
						o.firstErr = err.Error()
					}
					o.fail++
					continue
				}
				o.lat = append(o.lat, int64(d))
				o.gen = append(o.gen, info.genMS)
				o.first = append(o.first, int64(info.firstByte))
			}
		}(&outs[i], n)
	}
	ready.Wait()
	if ls.onWarm != nil {
		ls.onWarm()
	}
	t0 := time.Now()
	deadline = t0.Add(ls.duration)
	close(start)
	done.Wait()
	res := runResult{elapsed: time.Since(t0)}
	for _, o := range outs {
		res.lat = append(res.lat, o.lat...)
		res.gen = append(res.gen, o.gen...)
		res.first = append(res.first, o.first...)
		res.fail += o.fail
		if res.firstErr == "" {
			res.firstErr = o.firstErr
		}
	}
	res.ok = len(res.lat)
	return res
}

// runC runs floor_client against sock and reads its per-request records
// (native-endian uint64 triples; amd64 and arm64 are little-endian).
func runC(floorClient, sock, reqFile string, w *workload, ls loadSpec, tmp string) runResult {
	if ls.onWarm != nil {
		// floor_client has no pause between its warm-up and the rest:
		// warm up with a run of its own.
		if ls.warmup > 0 {
			runC(floorClient, sock, reqFile, w, loadSpec{iterations: ls.warmup, concurrency: ls.concurrency, pauseUS: ls.pauseUS}, tmp)
		}
		ls.onWarm()
		ls.warmup, ls.onWarm = 0, nil
	}
	out := filepath.Join(tmp, "floor_client.records")
	args := []string{"--socket", sock, "--request", reqFile,
		"--expect-type", strconv.Itoa(int(w.replyType)), "--expect-len", strconv.Itoa(w.replyLen),
		"--concurrency", strconv.Itoa(ls.concurrency), "--warmup", strconv.Itoa(ls.warmup), "--out", out}
	if ls.pauseUS > 0 {
		args = append(args, "--pause-us", strconv.FormatInt(ls.pauseUS, 10))
	}
	if ls.iterations > 0 {
		args = append(args, "--iterations", strconv.Itoa(ls.iterations))
	} else {
		args = append(args, "--duration-ms", strconv.FormatInt(int64(ls.duration/time.Millisecond), 10))
	}
	cmd := exec.Command(floorClient, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		return runResult{fail: 1, firstErr: fmt.Sprintf("floor_client: %v: %s", err, strings.TrimSpace(stderr.String()))}
	}
	var res runResult
	line := strings.TrimSpace(string(stdout))
	fields := strings.SplitN(line, " first_error=", 2)
	for _, kv := range strings.Fields(fields[0]) {
		parts := strings.SplitN(kv, "=", 2)
		if len(parts) != 2 {
			continue
		}
		v, _ := strconv.ParseInt(parts[1], 10, 64)
		switch parts[0] {
		case "ok":
			res.ok = int(v)
		case "fail":
			res.fail = int(v)
		case "elapsed_ns":
			res.elapsed = time.Duration(v)
		}
	}
	if len(fields) == 2 {
		res.firstErr = fields[1]
	}
	f, err := os.Open(out)
	if err != nil {
		return runResult{fail: res.fail + 1, firstErr: err.Error()}
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<16)
	var rec [24]byte
	for {
		if _, err := io.ReadFull(br, rec[:]); err != nil {
			break
		}
		res.lat = append(res.lat, int64(binary.LittleEndian.Uint64(rec[0:])))
		res.gen = append(res.gen, uint32(binary.LittleEndian.Uint64(rec[8:])))
		res.first = append(res.first, int64(binary.LittleEndian.Uint64(rec[16:])))
	}
	if len(res.lat) != res.ok {
		res.fail++
		res.firstErr = fmt.Sprintf("floor_client reported ok=%d but wrote %d records", res.ok, len(res.lat))
	}
	return res
}
