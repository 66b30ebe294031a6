/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * irqs.c - VFIO_DEVICE_SET_IRQS on the edu: the header's validation, the
 * actions each index has, MSI through an eventfd (every raise a message,
 * DATA_NONE as loopback), INTx through an eventfd (automasked after each
 * interrupt, fired again on unmask while the line is still asserted, user
 * masking), MSI and INTx excluding each other, and the request interrupt.
 *
 *   irqs /dev/vfio/<group> <pci-bdf>
 */
#include <poll.h>
#include <sys/eventfd.h>

#include "common.h"

#define EV (VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER)
#define NONE_TRIGGER (VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER)
#define NONE_MASK (VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK)
#define NONE_UNMASK (VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK)

static int dev = -1;

static void set_irqs(const char *label, uint32_t argsz, uint32_t flags,
		     uint32_t index, uint32_t start, uint32_t count, int32_t fd)
{
	union {
		struct vfio_irq_set s;
		uint8_t raw[64];
	} u;

	memset(&u, 0, sizeof(u));
	u.s.argsz = argsz;
	u.s.flags = flags;
	u.s.index = index;
	u.s.start = start;
	u.s.count = count;
	memcpy(u.s.data, &fd, sizeof(fd));
	errno = 0;
	line("set_irqs", label, ioctl(dev, VFIO_DEVICE_SET_IRQS, &u), NULL);
}

/* The eventfd's count after up to 200 ms, then reset. */
static void events(const char *label, int e)
{
	struct pollfd p = { .fd = e, .events = POLLIN };
	uint64_t v = 0;

	if (poll(&p, 1, 200) != 1 || read(e, &v, sizeof(v)) != sizeof(v))
		v = 0;
	printf("op=event case=%s count=%llu\n", label, (unsigned long long)v);
}

/* One step: a SET_IRQS, a write to an edu register, or an eventfd read. */
enum kind { SET, REG, EVENTS };
enum which { E_NONE = -1, E_MSI, E_INTX, E_ZERO }; /* E_ZERO: fd 0 */

struct step {
	enum kind kind;
	const char *label;
	uint32_t argsz, flags, index, start, count; /* REG: offset, value */
	enum which fd;
};

#define S(l, a, f, i, s, c, e)           \
	{                                \
		SET, l, a, f, i, s, c, e \
	}
#define RAISE(bits)                                    \
	{                                              \
		REG, NULL, 0x60, bits, 0, 0, 0, E_NONE \
	}
#define ACK                                                  \
	{                                                    \
		REG, NULL, 0x64, 0xffffffff, 0, 0, 0, E_NONE \
	}
#define EVENTS(l, e)                        \
	{                                   \
		EVENTS, l, 0, 0, 0, 0, 0, e \
	}

static const struct step steps[] = {
	S("short_argsz", 16, EV, 1, 0, 1, E_MSI),
	S("bad_index", 24, EV, 5, 0, 1, E_MSI),
	S("bad_flags", 24, EV | 0x100, 1, 0, 1, E_MSI),
	S("two_types", 24, EV | VFIO_IRQ_SET_DATA_BOOL, 1, 0, 1, E_MSI),
	S("two_actions", 24, EV | VFIO_IRQ_SET_ACTION_MASK, 1, 0, 1, E_MSI),
	S("msi_count2", 28, EV, 1, 0, 2, E_MSI),
	S("msi_start1", 24, EV, 1, 1, 1, E_MSI),
	S("msi_short_data", 20, EV, 1, 0, 1, E_MSI),
	S("msix_trigger", 24, EV, 2, 0, 1, E_MSI),
	S("err_trigger", 24, EV, 3, 0, 1, E_MSI),
	S("msi_mask", 20, NONE_MASK, 1, 0, 1, E_NONE),
	S("msi_disable_when_off", 20, NONE_TRIGGER, 1, 0, 0, E_NONE),
	S("msi_not_an_eventfd", 24, EV, 1, 0, 1, E_ZERO),
	S("msi_enable", 24, EV, 1, 0, 1, E_MSI),
	RAISE(0x1),
	EVENTS("msi_raise", E_MSI),
	RAISE(0x2),
	EVENTS("msi_raise_again", E_MSI),
	ACK,
	EVENTS("msi_after_ack", E_MSI),
	S("msi_loopback", 20, NONE_TRIGGER, 1, 0, 1, E_NONE),
	EVENTS("msi_loopback", E_MSI),
	S("intx_while_msi", 24, EV, 0, 0, 1, E_INTX),
	S("msi_disable", 20, NONE_TRIGGER, 1, 0, 0, E_NONE),
	S("intx_unmask_when_off", 20, NONE_UNMASK, 0, 0, 1, E_NONE),
	S("intx_enable", 24, EV, 0, 0, 1, E_INTX),
	RAISE(0x1),
	EVENTS("intx_raise", E_INTX),
	ACK,
	RAISE(0x1),
	EVENTS("intx_automasked", E_INTX),
	S("intx_unmask", 20, NONE_UNMASK, 0, 0, 1, E_NONE),
	EVENTS("intx_after_unmask", E_INTX),
	ACK,
	S("intx_unmask_deasserted", 20, NONE_UNMASK, 0, 0, 1, E_NONE),
	EVENTS("intx_after_unmask_deasserted", E_INTX),
	S("msi_while_intx", 24, EV, 1, 0, 1, E_MSI),
	S("intx_mask", 20, NONE_MASK, 0, 0, 1, E_NONE),
	RAISE(0x1),
	EVENTS("intx_user_masked", E_INTX),
	S("intx_unmask_user", 20, NONE_UNMASK, 0, 0, 1, E_NONE),
	EVENTS("intx_after_user_unmask", E_INTX),
	ACK,
	S("intx_mask_eventfd", 24,
	  VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_MASK, 0, 0, 1,
	  E_INTX),
	S("intx_unmask_eventfd_off", 24,
	  VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_UNMASK, 0, 0, 1,
	  E_NONE),
	S("intx_loopback", 20, NONE_TRIGGER, 0, 0, 1, E_NONE),
	EVENTS("intx_loopback", E_INTX),
	S("intx_disable", 20, NONE_TRIGGER, 0, 0, 0, E_NONE),
	S("req_none_without_trigger", 20, NONE_TRIGGER, 4, 0, 1, E_NONE),
	S("req_enable", 24, EV, 4, 0, 1, E_INTX),
	S("req_loopback", 20, NONE_TRIGGER, 4, 0, 1, E_NONE),
	EVENTS("req_loopback", E_INTX),
	S("req_disable", 20, NONE_TRIGGER, 4, 0, 0, E_NONE),
};

int main(int argc, char **argv)
{
	int fds[2] = { eventfd(0, EFD_NONBLOCK), eventfd(0, EFD_NONBLOCK) };
	uint8_t *buf;

	if (argc < 3 || fds[0] < 0 || fds[1] < 0 ||
	    (dev = setup_dma(argv[1], argv[2], &buf)) < 0)
		return 1;
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		const struct step *st = &steps[i];
		int32_t fd = st->fd == E_NONE ? -1 :
			     st->fd == E_ZERO ? 0 :
						fds[st->fd];

		if (st->kind == SET)
			set_irqs(st->label, st->argsz, st->flags, st->index,
				 st->start, st->count, fd);
		else if (st->kind == REG)
			bar_w32(dev, st->argsz, st->flags);
		else
			events(st->label, fd);
	}
	close(dev);
	printf("op=end\n");
	return 0;
}
