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
