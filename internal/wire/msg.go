package wire

import (
	"encoding/binary"
	"fmt"
)

// Field is one named run of bytes in a message.
type Field struct {
	Name string
	Data []byte
}

// Msg is a message (or part of one) as an ordered list of named fields, so
// that a message can be printed field by field (the vector files do) and
// cut anywhere.
type Msg struct {
	Fields []Field
}

// Add appends a copy of b as the field name.
func (m *Msg) Add(name string, b []byte) *Msg {
	c := make([]byte, len(b))
	copy(c, b)
	m.Fields = append(m.Fields, Field{Name: name, Data: c})
	return m
}

// U16 appends a big-endian u16.
func (m *Msg) U16(name string, v uint16) *Msg {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return m.Add(name, b[:])
}

// U32 appends a big-endian u32.
func (m *Msg) U32(name string, v uint32) *Msg {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return m.Add(name, b[:])
}

// U64 appends a big-endian u64.
func (m *Msg) U64(name string, v uint64) *Msg {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return m.Add(name, b[:])
}

// Append adds all fields of o after m's.
func (m *Msg) Append(o *Msg) *Msg {
	for _, f := range o.Fields {
		m.Add(f.Name, f.Data)
	}
	return m
}

// Size is the total number of bytes.
func (m *Msg) Size() int {
	n := 0
	for _, f := range m.Fields {
		n += len(f.Data)
	}
	return n
}

// Bytes is the message as one byte slice.
func (m *Msg) Bytes() []byte {
	out := make([]byte, 0, m.Size())
	for _, f := range m.Fields {
		out = append(out, f.Data...)
	}
	return out
}

// Offset returns where the first field called name starts, and whether
// there is one.
func (m *Msg) Offset(name string) (int, bool) {
	n := 0
	for _, f := range m.Fields {
		if f.Name == name {
			return n, true
		}
		n += len(f.Data)
	}
	return 0, false
}

// Cut returns a copy of m holding only its first n bytes. A field split by
// the cut keeps its name with a note of how much of it is left. It panics
// if n is larger than the message.
func (m *Msg) Cut(n int) *Msg {
	if n > m.Size() {
		panic(fmt.Sprintf("Cut(%d) of a %d-byte message", n, m.Size()))
	}
	out := &Msg{}
	left := n
	for _, f := range m.Fields {
		if left == 0 {
			break
		}
		if len(f.Data) <= left {
			out.Add(f.Name, f.Data)
			left -= len(f.Data)
			continue
		}
		out.Add(fmt.Sprintf("%s (cut: %d of %d bytes)", f.Name, left, len(f.Data)), f.Data[:left])
		left = 0
	}
	return out
}
