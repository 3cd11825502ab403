// Package shm is the client side of the shared-memory image reply (SPEC
// section 11.4): it reads one message together with the file descriptors
// that came with it, and turns the single descriptor of a 0x0006 reply into
// a read-only mapping of the pixels, after checking that the descriptor can
// be trusted. It never trusts the daemon's descriptors, and none is left
// open on any path: ReadMessage either hands a message's descriptors to its
// caller (who passes them to Accept, or to CloseFDs for a message that must
// not carry any) or closes them all; Accept maps and closes the one it
// accepts and closes every one it refuses. The package is Linux-only (memfd,
// F_GET_SEALS).
//
// # Reading
//
// ReadMessage reads one whole message (header, then exactly payload_len
// bytes) from a *net.UnixConn with ReadMsgUnix, within the deadline the
// caller set on the connection, and returns it with every descriptor that
// arrived with any part of it. Go's net package passes MSG_CMSG_CLOEXEC to
// recvmsg on Linux, so each descriptor is close-on-exec from the moment it
// exists in this process (no window in which a concurrent fork+exec could
// inherit it). The message is read into a buffer the caller supplies and
// reuses, straight from the socket: no second copy of a 10 MiB inline reply.
//
// A Reader does the same on one connection with recvmsg(2) called on the
// raw socket (MSG_CMSG_CLOEXEC passed explicitly): net's ReadMsgUnix
// allocates the peer's address on every call when the peer is a listening
// socket's connection, and a 10 MB reply takes dozens of calls. go/client
// reads every reply through a Reader.
//
// # Accepting
//
// Accept takes those descriptors and the image size the decoded reply
// announced. It refuses, closing every descriptor, unless there is exactly
// one and it is a memfd sealed with F_SEAL_SHRINK, F_SEAL_GROW,
// F_SEAL_WRITE and F_SEAL_SEAL whose size is at least the image size. The
// checks, in this order:
//
//  1. fcntl(F_GET_SEALS) succeeds. It works only on shmem-backed files
//     (memfds, tmpfs and hugetlbfs files); a pipe, a socket, a device or a
//     file on a disk file system fails with EINVAL: ErrNotMemfd. A file that
//     was not created sealable (a tmpfs file, a memfd without
//     MFD_ALLOW_SEALING) reports F_SEAL_SEAL alone, "sealed against
//     sealing", so it can never pass step 2.
//  2. All four seals are set: ErrUnsealed otherwise. F_SEAL_SEAL makes the
//     set final, so what was checked stays true for the life of the file.
//  3. fstat: a regular file (ErrNotMemfd otherwise) of at least the image
//     size (ErrTooSmall otherwise). This runs after the seals are known: with
//     shrinking and growing sealed, the size it reports cannot change later.
//
// Why F_GET_SEALS and not the "/memfd:" name that readlink shows in
// /proc/self/fd: the name is a string chosen by whoever created the file and
// derived from a path (a tmpfs file at a path starting with "/memfd:" shows
// the same), it says nothing about the seals, and /proc may not be mounted.
// The seals are what the safety of the mapping rests on, the kernel keeps
// them on the inode and enforces them against every process holding the
// file, and F_GET_SEALS reads them directly; "is it literally a memfd" adds
// nothing once all four seals are verified.
//
// Only then is the file mapped: mmap(PROT_READ, MAP_SHARED) of exactly the
// image size from offset 0. The descriptor is closed right after mapping;
// the mapping keeps the file alive.
//
// # Why the mapping cannot SIGBUS
//
// Touching a page of a shared file mapping that lies beyond the file's end
// raises SIGBUS, which in Go is a fatal "unexpected fault address" crash,
// not a recoverable error. If the daemon (or anyone holding the memfd) could
// ftruncate it after the client mapped it, merely reading the pixels would
// kill the client. F_SEAL_SHRINK makes every shrinking ftruncate fail with
// EPERM, for every holder, and no seal can ever be removed; Accept verifies
// it, and that the size is at least the mapped length, before mmap. So every
// page of the mapping stays inside the file for as long as the mapping
// exists. F_SEAL_WRITE (it cannot be set while a writable shared mapping
// exists, and none can be made afterwards) means the pixels cannot change
// under the reader either: what was read once reads the same later.
// F_SEAL_GROW bounds the memory the file can ever hold. Pages the sender
// never wrote read as zeros (the kernel fills them on first touch, like any
// memory the process uses).
//
// # Image lifetime
//
// An *Image owns the mapping. Its Pixels slice points into it and is valid
// until Close; Close unmaps exactly once and later calls do nothing. There
// is deliberately no finalizer: the pixel slice does not keep the *Image
// reachable, so a finalizer could unmap memory that is still being read.
// An *Image that is never closed leaks its mapping.
package shm
