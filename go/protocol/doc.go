// Package protocol implements the Weave protocol, versions 1 and 2: the
// binary messages the weave front end and the weave-compute daemon exchange
// over a Unix socket. proto_spec/SPEC.md is the authority; the shared test
// vectors in proto_spec/testdata are run against this package.
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
// Versions: the package-level DecodeHeader, DecodeRequest, DecodeResponse
// and ReadMessage serve version 1 only (a version-2 header is
// CodeUnsupportedVersion), as a daemon or client that does not speak
// version 2. The same functions as methods of Versions serve a range:
// Versions12.DecodeRequest also accepts every version-1 message in a
// version-2 header and the version-2 request 0x0005
// (*GenerateOptionsRequest); Versions12.DecodeResponse also accepts
// 0x0006 (*SHMGenerateResponse), 0x0010 (*Queued), 0x0011 (*Progress),
// 0x0012 (*Heartbeat), and a version-2 status response with its 11.6
// fields (StatusResponse.V2). The version-2 types are unknown (CodeUnknownType)
// in a version-1 header. The version-1 types carry the header version in
// their Version field (0 means version 1), and the encoders write it.
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
