/* SPDX-License-Identifier: MIT */
/*
 * The server side of vfio-user: accept a client, negotiate, and dispatch each
 * command to a device's callbacks. Used by the example device server and the
 * tests; a real device would look the same.
 *
 * One client at a time per listener; vu_serve() handles one connection from
 * VERSION to disconnect and then returns, so a server loops accept + serve.
 * Dispatch is single-threaded and in order, as the spec requires. A callback
 * may itself call vu_server_dma_read/write: the request goes to the client
 * and vu_serve waits for its reply (on the twin socket when negotiated,
 * otherwise on the main socket, queueing any client command that arrives
 * meanwhile; libvfio-user's servers treat such a command as a protocol
 * error instead, which opts->strict imitates).
 */
#ifndef VFIO_USER_PROTO_SERVER_H
#define VFIO_USER_PROTO_SERVER_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "caps.h"
#include "log.h"
#include "vfio-user.h"

struct vu_server_conn;

/*
 * Device callbacks. Each returns 0 or -errno (sent to the client as an error
 * reply). A NULL callback answers its command with ENOTSUP. dev is the
 * pointer given to vu_serve.
 */
struct vu_server_ops {
	int (*device_info)(void *dev, struct vfio_user_device_info *info);
	/* Write the region's info and capability chain into buf (room for
	 * *len bytes); set *len to the full size needed (it may exceed the
	 * room: then only argsz is sent back). *fd: an fd to send with the
	 * reply, or -1; it stays the device's. */
	int (*region_info)(void *dev, uint32_t index, void *buf, size_t *len, int *fd);
	int (*irq_info)(void *dev, uint32_t index, struct vfio_user_irq_info *info);
	/* data: count bytes for DATA_BOOL. fds: nr_fds fds for DATA_EVENTFD,
	 * now owned by the device (closed by it, even on error). */
	int (*set_irqs)(void *dev, const struct vfio_user_irq_set *set, const uint8_t *data,
	                int *fds, size_t nr_fds);
	int (*region_read)(void *dev, uint32_t region, uint64_t offset, void *buf, uint32_t count);
	int (*region_write)(void *dev, uint32_t region, uint64_t offset, const void *buf,
	                    uint32_t count);
	/* fd (or -1) is now owned by the device. */
	int (*dma_map)(void *dev, const struct vfio_user_dma_map *map, int fd);
	int (*dma_unmap)(void *dev, const struct vfio_user_dma_unmap *unmap);
	int (*reset)(void *dev);
	/* The client left: unmap its memory, close its eventfds. */
	void (*client_gone)(void *dev);
};

struct vu_server_opts {
	struct vu_caps caps; /* what we offer (vu_caps_default + changes) */
	/* Behave as libvfio-user does: a client command arriving on the main
	 * socket while a callback waits for the reply to our DMA request is
	 * a protocol error that ends the connection (instead of being queued).
	 * Twin-socket mode avoids it. For testing clients against that rule. */
	bool strict;
	const struct vu_log *log;
};

/* Listen on a unix socket path (an existing socket file is replaced).
 * Returns the listening fd or -errno. */
int vu_server_listen(const char *path);

/*
 * Serve one client on the connected socket fd (taken over: closed on return)
 * until it disconnects, a fatal protocol error, or *stop becomes non-zero
 * (checked at least every 100 ms). Calls ops->client_gone before returning.
 * Returns 0 when the client left or stop was set, -errno on a fatal error.
 */
int vu_serve(int fd, const struct vu_server_ops *ops, void *dev, const struct vu_server_opts *opts,
             volatile sig_atomic_t *stop);

/* The connection being served, for callbacks that need to DMA; valid from
 * within a callback only (NULL elsewhere). */
struct vu_server_conn *vu_server_current(void);

/* Caps in force for the connection. */
const struct vu_caps *vu_server_caps(const struct vu_server_conn *conn);

/*
 * Read or write count bytes of client memory at IOVA addr by message (split
 * at the client's max_data_xfer_size). For use from a callback when the
 * client shared no fd for that memory. Returns 0 or -errno.
 */
int vu_server_dma_read(struct vu_server_conn *conn, uint64_t addr, void *buf, size_t count);
int vu_server_dma_write(struct vu_server_conn *conn, uint64_t addr, const void *buf, size_t count);

#endif
