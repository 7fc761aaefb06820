/* SPDX-License-Identifier: MIT */
/* The client's log hook, for the command helpers (internal). */
#ifndef VFIO_USER_PROTO_CLIENT_LOG_H
#define VFIO_USER_PROTO_CLIENT_LOG_H

#include "client.h"

const struct vu_log *vu_client_log(const struct vu_client *c);

#endif
