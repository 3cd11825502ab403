package fakedaemon

import (
	"golang.org/x/sys/unix"
)

// AllSeals are the seals SPEC 11.4 requires on a shared-memory reply's
// memfd.
const AllSeals = unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE | unix.F_SEAL_SEAL

// SealedMemfd returns a memfd holding data, sealed with AllSeals, as a
// correct daemon sends it. The caller closes it.
func SealedMemfd(data []byte) (int, error) {
	return Memfd(data, len(data), AllSeals)
}

// Memfd returns a sealable memfd of size bytes starting with data (size may
// be smaller than len(data): the rest is cut off) with the given seals
// (0: none), for hostile-daemon tests. The caller closes it.
func Memfd(data []byte, size int, seals int) (int, error) {
	fd, err := unix.MemfdCreate("weave-fake-image", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return -1, err
	}
	if len(data) > size {
		data = data[:size]
	}
	for off := 0; off < len(data); {
		n, err := unix.Pwrite(fd, data[off:], int64(off))
		if err != nil {
			closeFD(fd)
			return -1, err
		}
		off += n
	}
	if err := unix.Ftruncate(fd, int64(size)); err != nil {
		closeFD(fd)
		return -1, err
	}
	if seals != 0 {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals); err != nil {
			closeFD(fd)
			return -1, err
		}
	}
	return fd, nil
}

func closeFD(fd int) { _ = unix.Close(fd) }
