package main

import (
	"bufio"
	"bytes"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/weave-app/weave/go/protocol"
)

// responseImage turns the pixels of a generate response into an image:
// RGB (3 channels) becomes opaque NRGBA, RGBA (4) is taken as
// non-premultiplied NRGBA.
func responseImage(resp *protocol.GenerateResponse) (image.Image, error) {
	w, h, ch := int(resp.Width), int(resp.Height), int(resp.Channels)
	if w <= 0 || h <= 0 {
		return nil, fmt.Errorf("invalid image size %dx%d", resp.Width, resp.Height)
	}
	if ch != 3 && ch != 4 {
		return nil, fmt.Errorf("unsupported channel count %d", resp.Channels)
	}
	if uint64(len(resp.Pixels)) != uint64(w)*uint64(h)*uint64(ch) {
		return nil, fmt.Errorf("image data is %d bytes, want %d", len(resp.Pixels), w*h*ch)
	}
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	if ch == 4 {
		for y := 0; y < h; y++ {
			copy(img.Pix[y*img.Stride:y*img.Stride+w*4], resp.Pixels[y*w*4:(y+1)*w*4])
		}
		return img, nil
	}
	src := resp.Pixels
	for y := 0; y < h; y++ {
		row := img.Pix[y*img.Stride : y*img.Stride+w*4]
		s := src[y*w*3 : (y+1)*w*3]
		for x := 0; x < w; x++ {
			row[4*x] = s[3*x]
			row[4*x+1] = s[3*x+1]
			row[4*x+2] = s[3*x+2]
			row[4*x+3] = 0xFF
		}
	}
	return img, nil
}

// writePNGAtomic encodes img as PNG into a temporary file in the directory
// of path and renames it over path, so a failure never leaves a partial
// file. The file gets mode 0666 minus the umask.
func writePNGAtomic(path string, img image.Image) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		return err
	}
	tmpName := tmp.Name()
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmpName)
		}
	}()
	bw := bufio.NewWriterSize(tmp, 256<<10)
	if err = png.Encode(bw, img); err != nil {
		return err
	}
	if err = bw.Flush(); err != nil {
		return err
	}
	if err = tmp.Chmod(0o666 &^ umask()); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmpName, path)
}

// umask returns the process umask from /proc/self/status (reading it with
// umask(2) would change it for a moment), 022 when unknown.
func umask() os.FileMode {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0o022
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if v := strings.TrimPrefix(string(line), "Umask:"); len(v) != len(line) {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32)
			if err != nil {
				return 0o022
			}
			return os.FileMode(n) & 0o777
		}
	}
	return 0o022
}
