// Package protocol implements the Weave protocol version 1: the binary
// messages the weave front end and the weave-compute daemon exchange over a
// Unix socket. proto_spec/SPEC.md is the authority; the shared test vectors
// in proto_spec/testdata are run against this package.
//
// Every message is a 16-byte header followed by a payload of payload_len
// bytes (at most MaxPayloadSize). All integers are big-endian.
//
// Decoding:
//
//   - DecodeHeader checks a header in SPEC order: magic (1), version (2),
//     size (13).
//   - DecodeRequest is the daemon-side decoder (generate request, status
//     request); DecodeResponse is the client-side decoder (generate response,
//     status response, error). Both take one complete message (header and
//     payload) and perform exactly the SPEC checks in the SPEC order; bytes
//     after 16+payload_len are ignored, fewer bytes are a malformed message.
//   - ReadMessage reads one message from a stream, checking the header before
//     it allocates the payload.
//
// Decode and validation failures are *Error values carrying the protocol
// error code (and so the status) the daemon would answer with. A daemon
// error reply decodes to *ErrorResponse, which is itself an error. Both
// match the sentinel errors with errors.Is:
//
//	if errors.Is(err, protocol.ErrInvalidDimensions) { ... }
//
// holds for a local GenerateRequest.Validate failure and for a daemon's
// 400/5 reply alike.
//
// Encoding: every message type has an Append* function (append to a buffer)
// and an Encode* function (fresh buffer). Encoders check only what the wire
// format can represent (string lengths that fit their length fields, the
// 10 MiB message bound); they do not apply the semantic rules, so tests can
// build invalid requests. Call GenerateRequest.Validate before sending.
package protocol
