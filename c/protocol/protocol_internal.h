/* Helpers shared by the codec's source files; not part of the public API. */
#ifndef WEAVE_PROTOCOL_INTERNAL_H
#define WEAVE_PROTOCOL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "weave/protocol.h"

/*
 * The request_id an error reply echoes: the first 8 payload bytes, when the
 * header declares at least 8 payload bytes and `got` (bytes of the payload
 * at hand) covers them. Otherwise 0 (SPEC section 4, "request_id is echoed
 * ... at least 8 bytes").
 */
uint64_t weave_payload_request_id(const uint8_t *payload, size_t got,
                                  uint32_t payload_len);

/* 400/12 for a msg_type the decoder of `role` ("request", "response")
 * does not accept. */
void weave_unknown_type_error(struct weave_error *err, uint64_t request_id,
                              uint16_t msg_type, const char *role);

/*
 * Shared front half of both decoders: message at least a header long,
 * header checks (magic, version in vmin..vmax, size), then the caller's
 * per-version message-type check via `accepts`, then "the whole payload is
 * there". On success *payload points at the payload. Returns 0 or -1 with
 * *err filled.
 */
int weave_frame_decode(const uint8_t *msg, size_t len, uint16_t vmin,
                       uint16_t vmax,
                       int (*accepts)(uint16_t version, uint16_t msg_type),
                       const char *role, struct weave_header *hdr,
                       const uint8_t **payload, struct weave_error *err);

/* Version 2 (protocol_response_v2.c): decodes the payload of a 0x0006,
 * 0x0010, 0x0011 or 0x0012 message into out->u. Returns 0 or -1 (error 11). */
int weave_decode_v2_response(uint16_t msg_type, const uint8_t *p,
                             uint32_t plen, struct weave_response *out,
                             struct weave_error *err);

/* The 11.6 fields of a version-2 status response, from p[at..plen). */
int weave_decode_status_v2(const uint8_t *p, uint32_t plen, uint32_t at,
                           struct weave_status_response *out,
                           struct weave_error *err);

/* Version 2 (protocol_encode_v2.c): the size of the 11.6 fields for resp,
 * or 0 when last_crash breaks a format rule; and writing them at p. */
uint64_t weave_status_v2_size(const struct weave_status_response *resp);
void weave_put_status_v2(uint8_t *p, const struct weave_status_response *resp);

/*
 * The start every encoder shares: checks that a payload of payload_len
 * bytes fits (weave_message_size), then writes the header and the payload's
 * request_id. Returns the payload, with *total the whole message length,
 * or NULL with buf untouched when it does not fit.
 */
uint8_t *weave_put_start(uint8_t *buf, size_t cap, uint16_t version,
                         uint16_t msg_type, uint64_t payload_len,
                         uint64_t request_id, size_t *total);

/*
 * A generate request of msg_type with its prompts back to back: the start
 * (weave_put_start), then section 4's fields `shift` bytes after their GEN_*
 * offsets (0 for 0x0001; OPT_SHIFT for 0x0005, whose flags and reserved the
 * caller writes). Returns the payload or NULL, as weave_put_start.
 */
uint8_t *weave_put_generate(uint8_t *buf, size_t cap, uint16_t version,
                            uint16_t msg_type, uint32_t shift,
                            const struct weave_generate_request *req,
                            size_t *total);

/* The image fields of a generate or shared-memory response (IMG_* of
 * layout.h), into the payload p. */
void weave_put_image_fields(uint8_t *p, uint32_t status, uint32_t generation_ms,
                            uint32_t width, uint32_t height, uint32_t channels);

/*
 * The start every response decoder shares: *id is the request_id when 8
 * payload bytes are there (else 0); returns 0, or -1 (error 11 naming
 * `what`) when plen is under the payload's fixed size `want`.
 */
int weave_response_start(const uint8_t *p, uint32_t plen, uint32_t want,
                         const char *what, uint64_t *id,
                         struct weave_error *err);

/*
 * Reads the image fields (IMG_* of layout.h) of a generate or shared-memory
 * response and applies the rules the two share: status 200, both sides at
 * least 1, 3 or 4 channels. Returns 0, or -1 (error 11 naming `what`).
 */
int weave_get_image_fields(const uint8_t *p, uint64_t id, const char *what,
                           uint32_t *status, uint32_t *generation_ms,
                           uint32_t *width, uint32_t *height,
                           uint32_t *channels, struct weave_error *err);

/* Writes a 16-byte header with reserved = 0. */
void weave_put_header(uint8_t *buf, uint16_t version, uint16_t msg_type,
                      uint32_t payload_len);

/*
 * Checks that a message of `payload_len` payload bytes fits both the
 * protocol limit and the caller's capacity. Returns the whole message
 * length, or 0 when it does not fit. payload_len is 64-bit so callers can
 * add field lengths without overflowing first.
 */
size_t weave_message_size(uint64_t payload_len, size_t cap);

#endif /* WEAVE_PROTOCOL_INTERNAL_H */
