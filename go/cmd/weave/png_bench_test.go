package main

import (
	"context"
	"io"
	"testing"

	"github.com/weave-app/weave/go/internal/fakedaemon"
)

// BenchmarkEncodePNG times the PNG encoders on a 1024x1024 RGB image:
// go test ./go/cmd/weave -run - -bench EncodePNG.
func BenchmarkEncodePNG(b *testing.B) {
	const w, h = 1024, 1024
	img := &rawImage{w: w, h: h, ch: 3, pix: fakedaemon.Pixels(w, h, 1)}
	for _, level := range []pngCompression{pngFast, pngDefault} {
		b.Run(level.String(), func(b *testing.B) {
			b.SetBytes(w * h * 3)
			for i := 0; i < b.N; i++ {
				if err := encodePNG(context.Background(), io.Discard, img, level); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
