package shm

import (
	"net"
	"testing"

	"golang.org/x/sys/unix"
)

// roundTrip is one shared-memory reply end to end: the peer creates, fills
// and seals a memfd and sends it with a 0x0006 message; the client receives,
// accepts, reads the pixels and closes the image.
func roundTrip(tb testing.TB, conn *net.UnixConn, p *peer, buf []byte, pix []byte, w, h, c uint32) []byte {
	mfd := sealedMemfd(tb, pix)
	p.send(shmReply(1, w, h, c), mfd)
	unix.Close(mfd)
	msg, fds, err := ReadMessage(conn, buf, 0)
	if err != nil {
		tb.Fatalf("ReadMessage: %v", err)
	}
	img, err := Accept(fds, imageSize(tb, msg))
	if err != nil {
		tb.Fatalf("Accept: %v", err)
	}
	px := img.Pixels()
	if px[0] != pix[0] || px[len(px)-1] != pix[len(pix)-1] {
		tb.Fatal("pixels differ")
	}
	if err := img.Close(); err != nil {
		tb.Fatalf("Close: %v", err)
	}
	return msg
}

// TestReceiveMapCloseLoop runs 10 000 receive+map+close round trips on one
// connection and checks at the end that no descriptor and no mapping is
// left: a leak of one per iteration would show as thousands.
func TestReceiveMapCloseLoop(t *testing.T) {
	checkLeaks(t)
	conn, p := newPair(t)
	const w, h, c = 64, 64, 3
	pix := pattern(w * h * c)
	buf := make([]byte, 0, 64)
	n := 10000
	if testing.Short() {
		n = 1000
	}
	for i := 0; i < n; i++ {
		buf = roundTrip(t, conn, p, buf, pix, w, h, c)
	}
	if m := testMappings(t); len(m) != 0 {
		t.Fatalf("%d mappings left after %d round trips", len(m), n)
	}
}

func BenchmarkReceiveMapClose(b *testing.B) {
	conn, p := newPair(b)
	const w, h, c = 512, 512, 4
	pix := pattern(w * h * c)
	buf := make([]byte, 0, 64)
	before := len(openFDs(b))
	b.SetBytes(int64(len(pix)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		buf = roundTrip(b, conn, p, buf, pix, w, h, c)
	}
	b.StopTimer()
	if after := len(openFDs(b)); after != before {
		b.Fatalf("%d descriptors open after %d round trips, %d before", after, b.N, before)
	}
	if m := testMappings(b); len(m) != 0 {
		b.Fatalf("%d mappings left", len(m))
	}
}
