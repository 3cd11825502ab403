package shm

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// MaxImageSize is the largest image_size of a shared-memory reply (SPEC
// 11.4: at most 2^30 bytes).
const MaxImageSize = 1 << 30

// RequiredSeals are the seals a shared-memory reply's memfd must carry.
const RequiredSeals = unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE | unix.F_SEAL_SEAL

// Accept turns the descriptors of a shared-memory reply into a mapped image
// of size bytes (the reply's image_size, width*height*channels). It takes
// ownership of every descriptor in fds: on success the one descriptor has
// been mapped and closed; on any error all of them have been closed.
//
// It succeeds only when there is exactly one descriptor (ErrDescriptorCount),
// size is 1..MaxImageSize (ErrImageSize), F_GET_SEALS works on it and it is
// a regular file (ErrNotMemfd), all of RequiredSeals are set (ErrUnsealed),
// and it holds at least size bytes (ErrTooSmall). Nothing is mapped before
// all of that is verified; see the package documentation for why this order
// makes the mapping safe to read.
func Accept(fds []int, size uint64) (*Image, error) {
	if len(fds) != 1 {
		CloseFDs(fds)
		return nil, &Error{Kind: ErrDescriptorCount, Detail: fmt.Sprintf("the reply carried %d, want 1 (all closed)", len(fds))}
	}
	fd := fds[0]
	img, err := mapSealed(fd, size)
	// The mapping, if any, keeps the file alive: the descriptor has no
	// further use either way. Linux releases it even if close reports an
	// error, and a failed close cannot affect an existing mapping.
	_ = unix.Close(fd)
	return img, err
}

// mapSealed verifies fd and maps it; it never closes fd.
func mapSealed(fd int, size uint64) (*Image, error) {
	if size == 0 || size > MaxImageSize {
		return nil, &Error{Kind: ErrImageSize, Detail: fmt.Sprintf("%d bytes, want 1..%d", size, MaxImageSize)}
	}
	seals, err := unix.FcntlInt(uintptr(fd), unix.F_GET_SEALS, 0)
	if err != nil {
		detail := "F_GET_SEALS failed"
		if errors.Is(err, unix.EINVAL) {
			detail = "it does not support sealing (" + describe(fd) + ")"
		}
		return nil, &Error{Kind: ErrNotMemfd, Detail: detail, Err: err}
	}
	if missing := RequiredSeals &^ seals; missing != 0 {
		return nil, &Error{Kind: ErrUnsealed, Detail: fmt.Sprintf("missing %s (has %s)", sealNames(missing), sealNames(seals))}
	}
	// Only now that shrinking and growing are sealed is the size final.
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, &Error{Kind: ErrNotMemfd, Detail: "fstat failed", Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, &Error{Kind: ErrNotMemfd, Detail: "not a regular file (" + fileType(st.Mode) + ")"}
	}
	if st.Size < 0 || uint64(st.Size) < size {
		return nil, &Error{Kind: ErrTooSmall, Detail: fmt.Sprintf("it holds %d bytes, the image needs %d", st.Size, size)}
	}
	data, err := unix.Mmap(fd, 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, &Error{Kind: ErrMap, Detail: fmt.Sprintf("mmap of %d bytes", size), Err: err}
	}
	return &Image{data: data}, nil
}

// Image is a shared-memory image mapped read-only.
//
// Pixels returns the mapped bytes. They are valid until Close: once Close
// has run the memory is gone, and touching a slice obtained before crashes
// the process (a fault, not a panic). The caller must make sure every use of
// the pixels has finished before it calls Close.
//
// Close unmaps exactly once. It may be called from any goroutine, more than
// once and concurrently: the first call unmaps and sets the pixels to nil,
// later calls do nothing and return nil. Pixels after Close returns nil.
type Image struct {
	mu   sync.Mutex
	data []byte // the mapping as unix.Mmap returned it; nil after Close
}

// Pixels returns the image bytes (rows top to bottom, tightly packed), valid
// until Close; nil after Close.
func (im *Image) Pixels() []byte {
	im.mu.Lock()
	defer im.mu.Unlock()
	return im.data
}

// Len is the number of image bytes; 0 after Close.
func (im *Image) Len() int {
	im.mu.Lock()
	defer im.mu.Unlock()
	return len(im.data)
}

// Close unmaps the image. Only the first call does anything; see Image.
func (im *Image) Close() error {
	im.mu.Lock()
	data := im.data
	im.data = nil
	im.mu.Unlock()
	if data == nil {
		return nil
	}
	if err := unix.Munmap(data); err != nil {
		return fmt.Errorf("shm: munmap: %w", err)
	}
	return nil
}

// sealNames spells a seal set in SPEC order, e.g. "F_SEAL_SHRINK|F_SEAL_SEAL";
// "none" for 0.
func sealNames(s int) string {
	var names []string
	for _, n := range []struct {
		bit  int
		name string
	}{
		{unix.F_SEAL_SHRINK, "F_SEAL_SHRINK"},
		{unix.F_SEAL_GROW, "F_SEAL_GROW"},
		{unix.F_SEAL_WRITE, "F_SEAL_WRITE"},
		{unix.F_SEAL_SEAL, "F_SEAL_SEAL"},
		{unix.F_SEAL_FUTURE_WRITE, "F_SEAL_FUTURE_WRITE"},
	} {
		if s&n.bit != 0 {
			names = append(names, n.name)
			s &^= n.bit
		}
	}
	if s != 0 {
		names = append(names, fmt.Sprintf("0x%x", s))
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, "|")
}

// describe names what fd is, for error messages.
func describe(fd int) string {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return "fstat: " + err.Error()
	}
	return fileType(st.Mode)
}

func fileType(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return "a regular file"
	case unix.S_IFIFO:
		return "a pipe"
	case unix.S_IFSOCK:
		return "a socket"
	case unix.S_IFCHR:
		return "a character device"
	case unix.S_IFBLK:
		return "a block device"
	case unix.S_IFDIR:
		return "a directory"
	case unix.S_IFLNK:
		return "a symbolic link"
	default:
		return fmt.Sprintf("file type 0%o", mode&unix.S_IFMT)
	}
}
