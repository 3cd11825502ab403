package protocol

import "encoding/binary"

// The field-level pieces that several messages share, read and written
// once: big-endian fields read one after another, u16-length strings, and
// the image fields that the shared-memory reply (SPEC 11.4) repeats from
// the generate response (section 5).

// fieldReader reads big-endian fields one after another from the front of
// the slice. The caller has checked that they are there.
type fieldReader []byte

func (f *fieldReader) u16() uint16 {
	v := binary.BigEndian.Uint16(*f)
	*f = (*f)[2:]
	return v
}

func (f *fieldReader) u32() uint32 {
	v := binary.BigEndian.Uint32(*f)
	*f = (*f)[4:]
	return v
}

func (f *fieldReader) u64() uint64 {
	v := binary.BigEndian.Uint64(*f)
	*f = (*f)[8:]
	return v
}

// str16 reads a string with a u16 length (the length field called lenName)
// from the front of f: CodeMalformed when the length field or the bytes it
// counts run past the end.
func (f *fieldReader) str16(id uint64, lenName string) (string, *Error) {
	if len(*f) < 2 {
		return "", newError(CodeMalformed, id, "payload ends before the %s", lenName)
	}
	n := int(f.u16())
	if n > len(*f) {
		return "", newError(CodeMalformed, id, "%s %d runs past the payload (%d bytes left)", lenName, n, len(*f))
	}
	s := string((*f)[:n])
	*f = (*f)[n:]
	return s, nil
}

// appendStr16 appends s with its u16 length; the caller has checked that
// the length fits.
func appendStr16(dst []byte, s string) []byte {
	dst = appendU16(dst, uint16(len(s)))
	return append(dst, s...)
}

// readImageFields reads section 5's status .. channels (payload offsets 8
// to 27, the same in 0x0006).
func (f *fieldReader) readImageFields(status, timeMS, width, height, channels *uint32) {
	*status = f.u32()
	*timeMS = f.u32()
	*width = f.u32()
	*height = f.u32()
	*channels = f.u32()
}

// appendImageFields appends request_id and section 5's status .. channels.
func appendImageFields(dst []byte, id uint64, status, timeMS, width, height, channels uint32) []byte {
	dst = appendU64(dst, id)
	dst = appendU32(dst, status)
	dst = appendU32(dst, timeMS)
	dst = appendU32(dst, width)
	dst = appendU32(dst, height)
	return appendU32(dst, channels)
}

// checkImage applies the rules that sections 5 and 11.4 share: status 200,
// sides >= 1, 3 or 4 channels. what names the message in the error.
func checkImage(id uint64, what string, status, width, height, channels uint32) *Error {
	if status != StatusOK {
		return newError(CodeMalformed, id, "%s status is %d, want %d", what, status, StatusOK)
	}
	if width < 1 || height < 1 || (channels != 3 && channels != 4) {
		return newError(CodeMalformed, id, "%s image %dx%d with %d channels (want sides >= 1, 3 or 4 channels)", what, width, height, channels)
	}
	return nil
}
