/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * edu.c - QEMU's educational PCI device (hw/misc/edu.c), as the kernel
 * oracle's VM has it, with its DMA going through the simulated IOMMU.
 *
 * What it models: the register file, the liveness check, the factorial
 * unit (computed at once), interrupt status, and the DMA engine with its
 * 4 KiB buffer at 0x40000 and 28-bit mask.  QEMU aborts the whole VM when a
 * DMA reaches outside the buffer or is empty (hw_error; both seen on the
 * oracle VM); the model reports a WARN and
 * transfers nothing.  Without bus mastering QEMU's pci_dma_rw() fails and
 * nothing moves; so here.  PCI config space as vfio-pci shows it in the
 * oracle VM (probe config_space): header, command register 0x0103 at open,
 * BAR0 at the address the firmware assigned (vfiosim_edu_assign()), the
 * subsystem IDs, and an MSI capability; see config_init().
 *
 * Locking: none of its own -- callers serialise access to one device (the
 * uAPI calls it under the device file's use, as vfio-pci does with its
 * register accesses); DMA takes the IOMMU's locks inside the dev layer.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <libvfiosim/edu.h>

#include "sim/sim_internal.h"

#define EDU_STATUS_IRQFACT 0x80u
#define EDU_DMA_RUN 0x1u
#define EDU_DMA_DIR_TO_RAM 0x2u
#define EDU_DMA_IRQ 0x4u
#define EDU_FACT_IRQ 0x00000001u
#define EDU_DMA_IRQ_BIT 0x00000100u
#define EDU_DMA_MASK ((1ull << 28) - 1)
#define PCI_COMMAND 0x04
#define PCI_COMMAND_MASTER 0x4u
/* I/O, memory, bus master, SERR, INTx disable: what stays set after
 * writing all ones through vfio-pci in the oracle VM (probe config_space). */
#define PCI_COMMAND_WRITABLE 0x0507u
#define EDU_COMMAND_AT_OPEN 0x0103u
#define PCI_BAR0 0x10
#define PCI_INTERRUPT_LINE 0x3c
#define EDU_MSI_CAP 0x40
/* What the oracle VM's firmware gave a lone edu at 00:01.0. */
#define EDU_DEFAULT_BAR0 0xfea00000u
#define EDU_DEFAULT_IRQ_LINE 10

struct vfiosim_edu {
	struct vfiosim_world *w;
	struct vfiosim_device *dev;
	char name[32];
	uint32_t addr4;
	uint32_t fact;
	uint32_t status;
	uint32_t irq_status;
	uint64_t dma_src, dma_dst, dma_cnt, dma_cmd;
	vfiosim_edu_irq_fn irq_fn; /* interrupt output, or NULL */
	void *irq_arg;
	bool msi_enabled;   /* the MSI capability's enable bit */
	bool intx_level;    /* the INTx line as the device drives it */
	uint32_t bar0_addr; /* assigned by the "firmware" */
	uint8_t irq_line;   /* likewise */
	uint8_t config[VFIOSIM_EDU_CONFIG_SIZE];
	uint8_t dma_buf[VFIOSIM_EDU_DMA_SIZE];
};

static void put16(uint8_t *at, uint16_t v)
{
	at[0] = (uint8_t)v;
	at[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *at, uint32_t v)
{
	put16(at, (uint16_t)v);
	put16(at + 2, (uint16_t)(v >> 16));
}

/* What the firmware assigned: BAR0's address and the interrupt line. */
static void config_resources(struct vfiosim_edu *e)
{
	put32(e->config + PCI_BAR0, e->bar0_addr);
	e->config[PCI_INTERRUPT_LINE] = e->irq_line;
}

/*
 * The configuration space as vfio-pci shows it in the oracle VM (probe
 * config_space, recorded): header, BAR0 at its assigned address (32-bit,
 * non-prefetchable memory), QEMU's subsystem IDs, and one capability, MSI
 * with 64-bit addresses, at 0x40.
 */
static void config_init(struct vfiosim_edu *e)
{
	uint8_t *c = e->config;

	memset(c, 0, sizeof(e->config));
	put16(c + 0x00, VFIOSIM_EDU_VENDOR);
	put16(c + 0x02, VFIOSIM_EDU_DEVICE);
	put16(c + PCI_COMMAND, EDU_COMMAND_AT_OPEN);
	put16(c + 0x06, 0x0010); /* status: capability list */
	c[0x08] = 0x10;		 /* revision */
	put16(c + 0x0a, 0x00ff); /* class 00ff00, "other" */
	config_resources(e);
	put16(c + 0x2c, 0x1af4); /* subsystem vendor (Red Hat, Inc.) */
	put16(c + 0x2e, 0x1100); /* subsystem (QEMU) */
	c[0x34] = EDU_MSI_CAP;
	c[0x3d] = 0x01;			    /* interrupt pin A */
	c[EDU_MSI_CAP] = 0x05;		    /* MSI, last capability */
	put16(c + EDU_MSI_CAP + 2, 0x0080); /* 64-bit address capable */
}

/* The INTx line follows the interrupt status while MSI is off. */
static void intx_set(struct vfiosim_edu *e, bool level)
{
	if (e->intx_level == level)
		return;
	e->intx_level = level;
	if (e->irq_fn)
		e->irq_fn(e->irq_arg, false, level);
}

/* QEMU's edu_raise_irq(): every raise sends an MSI message when MSI is on,
 * else the line is (kept) asserted. */
static void irq_raise(struct vfiosim_edu *e, uint32_t bits)
{
	e->irq_status |= bits;
	if (!e->irq_status)
		return;
	if (!e->msi_enabled)
		intx_set(e, true);
	else if (e->irq_fn)
		e->irq_fn(e->irq_arg, true, true);
}

/* edu_lower_irq(): the line drops when no status bit is left. */
static void irq_lower(struct vfiosim_edu *e, uint32_t bits)
{
	e->irq_status &= ~bits;
	if (!e->irq_status && !e->msi_enabled)
		intx_set(e, false);
}

VFIOSIM_EXPORT int vfiosim_edu_set_irq_handler(struct vfiosim_edu *e,
					       vfiosim_edu_irq_fn fn, void *arg)
{
	if (!e)
		return -EINVAL;
	e->irq_fn = fn;
	e->irq_arg = arg;
	return 0;
}

VFIOSIM_EXPORT int vfiosim_edu_set_msi(struct vfiosim_edu *e, bool enabled)
{
	if (!e)
		return -EINVAL;
	e->msi_enabled = enabled;
	/* As QEMU's msi_write_config(): enabling MSI deasserts INTx; the
	 * line is asserted again only by the next raise. */
	if (enabled)
		intx_set(e, false);
	return 0;
}

VFIOSIM_EXPORT int vfiosim_edu_reset(struct vfiosim_edu *e)
{
	if (!e)
		return -EINVAL;
	e->addr4 = e->fact = e->status = e->irq_status = 0;
	e->msi_enabled = false;
	intx_set(e, false);
	e->dma_src = e->dma_dst = e->dma_cnt = e->dma_cmd = 0;
	memset(e->dma_buf, 0, sizeof(e->dma_buf));
	config_init(e);
	return 0;
}

VFIOSIM_EXPORT int vfiosim_edu_create(struct vfiosim_world *w,
				      struct vfiosim_iommu_group *group,
				      const char *name,
				      struct vfiosim_edu **out)
{
	struct vfiosim_edu *e;
	int rc;

	if (!w || !group || !name || !out)
		return -EINVAL;
	e = vfiosim_zalloc(w, sizeof(*e), "dev.edu_alloc");
	if (!e)
		return -ENOMEM;
	e->w = w;
	e->bar0_addr = EDU_DEFAULT_BAR0;
	e->irq_line = EDU_DEFAULT_IRQ_LINE;
	snprintf(e->name, sizeof(e->name), "%s", name);
	rc = vfiosim_device_create(group, name, &e->dev);
	if (rc) {
		vfiosim_free(w, e);
		return rc;
	}
	vfiosim_edu_reset(e);
	*out = e;
	return 0;
}

VFIOSIM_EXPORT int vfiosim_edu_destroy(struct vfiosim_edu *e)
{
	if (!e)
		return 0;
	vfiosim_device_destroy(e->dev);
	vfiosim_free(e->w, e);
	return 0;
}

VFIOSIM_EXPORT const char *vfiosim_edu_name(const struct vfiosim_edu *e)
{
	return e ? e->name : "-";
}

VFIOSIM_EXPORT struct vfiosim_device *
vfiosim_edu_device(const struct vfiosim_edu *e)
{
	return e ? e->dev : NULL;
}

VFIOSIM_EXPORT uint8_t *vfiosim_edu_buffer(struct vfiosim_edu *e)
{
	return e ? e->dma_buf : NULL;
}

/* A BAR0 access the API takes: 1, 2, 4 or 8 bytes inside the BAR. */
static bool mmio_args_ok(const struct vfiosim_edu *e, const void *val,
			 uint64_t offset, unsigned int size)
{
	return e && val && (size == 1 || size == 2 || size == 4 || size == 8) &&
	       offset < VFIOSIM_EDU_BAR0_SIZE &&
	       size <= VFIOSIM_EDU_BAR0_SIZE - offset;
}

/* Does the device act on it?  Below 0x80 only 4-byte accesses, above
 * 4- and 8-byte ones (QEMU's edu_mmio_read/write). */
static bool mmio_decoded(uint64_t offset, unsigned int size)
{
	return offset < 0x80 ? size == 4 : size == 4 || size == 8;
}

VFIOSIM_EXPORT int vfiosim_edu_mmio_read(struct vfiosim_edu *e, uint64_t offset,
					 void *val, unsigned int size)
{
	/* Below 4 bytes the access is not valid for the device's memory
	 * region (QEMU: .valid.min_access_size = 4) and reads 0; a valid one
	 * the device does not decode reads all ones. */
	uint64_t v = size < 4 ? 0 : ~0ull;

	if (!mmio_args_ok(e, val, offset, size))
		return -EINVAL;
	if (mmio_decoded(offset, size)) {
		switch (offset) {
		case 0x00:
			v = 0x010000edu;
			break;
		case 0x04:
			v = e->addr4;
			break;
		case 0x08:
			v = e->fact;
			break;
		case 0x20:
			v = e->status;
			break;
		case 0x24:
			v = e->irq_status;
			break;
		case 0x80:
			v = e->dma_src;
			break;
		case 0x88:
			v = e->dma_dst;
			break;
		case 0x90:
			v = e->dma_cnt;
			break;
		case 0x98:
			v = e->dma_cmd;
			break;
		default:
			break;
		}
	}
	memcpy(val, &v, size); /* little-endian */
	return 0;
}

static void edu_dma(struct vfiosim_edu *e)
{
	uint64_t cmd = e->dma_cmd, cnt = e->dma_cnt;
	bool to_ram = cmd & EDU_DMA_DIR_TO_RAM;
	uint64_t buf_addr = to_ram ? e->dma_src : e->dma_dst;
	uint64_t mem = (to_ram ? e->dma_dst : e->dma_src) & EDU_DMA_MASK;

	/* QEMU's edu_check_range() also refuses an empty range (its end
	 * must lie above its start): a zero count stops the VM too. */
	if (buf_addr < VFIOSIM_EDU_DMA_START || !cnt ||
	    cnt > VFIOSIM_EDU_DMA_SIZE ||
	    buf_addr - VFIOSIM_EDU_DMA_START > VFIOSIM_EDU_DMA_SIZE - cnt) {
		vfiosim_fail_at(e->w, VFIOSIM_FAIL_WARN, __FILE__, __LINE__,
				"edu %s: DMA of %llu bytes at device address "
				"0x%llx is outside its buffer (QEMU aborts)",
				e->name, (unsigned long long)cnt,
				(unsigned long long)buf_addr);
	} else if (e->config[PCI_COMMAND] & PCI_COMMAND_MASTER) {
		uint8_t *p = e->dma_buf + (buf_addr - VFIOSIM_EDU_DMA_START);

		/* A fault is logged by the IOMMU; nothing more to do. */
		(void)vfiosim_device_dma(e->dev, mem, p, cnt,
					 to_ram ? VFIOSIM_DMA_WRITE :
						  VFIOSIM_DMA_READ);
	}
	e->dma_cmd &= ~(uint64_t)EDU_DMA_RUN;
	if (cmd & EDU_DMA_IRQ)
		irq_raise(e, EDU_DMA_IRQ_BIT);
}

VFIOSIM_EXPORT int vfiosim_edu_mmio_write(struct vfiosim_edu *e,
					  uint64_t offset, const void *val,
					  unsigned int size)
{
	uint64_t v = 0;

	if (!mmio_args_ok(e, val, offset, size))
		return -EINVAL;
	memcpy(&v, val, size);
	if (!mmio_decoded(offset, size))
		return 0;
	switch (offset) {
	case 0x04:
		e->addr4 = ~(uint32_t)v;
		break;
	case 0x08:
		/* Computed at once (never "computing"); the 32-bit product is
		 * 0 from 34! on, which ends the loop for any value. */
		e->fact = 1;
		for (uint32_t i = 2; i <= (uint32_t)v && e->fact; i++)
			e->fact *= i;
		if (e->status & EDU_STATUS_IRQFACT)
			irq_raise(e, EDU_FACT_IRQ);
		break;
	case 0x20:
		if (v & EDU_STATUS_IRQFACT)
			e->status |= EDU_STATUS_IRQFACT;
		else
			e->status &= ~EDU_STATUS_IRQFACT;
		break;
	case 0x60:
		irq_raise(e, (uint32_t)v);
		break;
	case 0x64:
		irq_lower(e, (uint32_t)v);
		break;
	case 0x80:
	case 0x88:
	case 0x90:
		/* Ignored while a DMA runs; the value replaces all 64 bits. */
		if (e->dma_cmd & EDU_DMA_RUN)
			break;
		*(offset == 0x80 ? &e->dma_src :
		  offset == 0x88 ? &e->dma_dst :
				   &e->dma_cnt) = v;
		break;
	case 0x98:
		if (!(v & EDU_DMA_RUN) || (e->dma_cmd & EDU_DMA_RUN))
			break;
		e->dma_cmd = v;
		edu_dma(e);
		break;
	default:
		break;
	}
	return 0;
}

VFIOSIM_EXPORT int vfiosim_edu_config_read(struct vfiosim_edu *e,
					   uint64_t offset, void *buf,
					   size_t len)
{
	if (!e || !buf || offset > VFIOSIM_EDU_CONFIG_SIZE ||
	    len > VFIOSIM_EDU_CONFIG_SIZE - offset)
		return -EINVAL;
	memcpy(buf, e->config + offset, len);
	return (int)len;
}

VFIOSIM_EXPORT int vfiosim_edu_config_write(struct vfiosim_edu *e,
					    uint64_t offset, const void *buf,
					    size_t len)
{
	const uint8_t *b = buf;

	if (!e || !buf || offset > VFIOSIM_EDU_CONFIG_SIZE ||
	    len > VFIOSIM_EDU_CONFIG_SIZE - offset)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		uint64_t at = offset + i;
		/* Writable bits of each byte: the command register, BAR0's
		 * address bits above its 1 MiB size (writing all ones reads
		 * back the size mask), the interrupt line; nothing else
		 * (BAR1-5 and the ROM BAR are empty, MSI is not set up
		 * through config writes here). */
		uint8_t wmask = 0;

		if (at == PCI_COMMAND || at == PCI_COMMAND + 1)
			wmask = (uint8_t)(PCI_COMMAND_WRITABLE >>
					  (8 * (at - PCI_COMMAND)));
		else if (at >= PCI_BAR0 && at < PCI_BAR0 + 4)
			wmask = (uint8_t)(~(uint32_t)(VFIOSIM_EDU_BAR0_SIZE -
						      1) >>
					  (8 * (at - PCI_BAR0)));
		else if (at == PCI_INTERRUPT_LINE)
			wmask = 0xff;
		e->config[at] =
			(uint8_t)((e->config[at] & ~wmask) | (b[i] & wmask));
	}
	return (int)len;
}

VFIOSIM_EXPORT int vfiosim_edu_assign(struct vfiosim_edu *e, uint32_t bar0,
				      uint8_t irq_line)
{
	if (!e || !bar0 || (bar0 & (VFIOSIM_EDU_BAR0_SIZE - 1)))
		return -EINVAL;
	e->bar0_addr = bar0;
	e->irq_line = irq_line;
	config_resources(e);
	return 0;
}
