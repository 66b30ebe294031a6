/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvfiosim/edu.h - a mock of QEMU's "edu" PCI device (1234:11e8), the
 * device the kernel oracle binds to vfio-pci, whose DMA goes through the
 * simulated IOMMU.
 *
 * Registers of BAR0 (1 MiB), as QEMU's hw/misc/edu.c has them: 0x00
 * identification 0x010000ed; 0x04 liveness (reads back the inverse of what
 * was written); 0x08 factorial; 0x20 status; 0x24 interrupt status; 0x60
 * raise / 0x64 acknowledge interrupt; 0x80 DMA source, 0x88 destination,
 * 0x90 count, 0x98 command (bit 0 start, bit 1 direction: 1 = from the
 * device's buffer to memory, bit 2 interrupt when done).  The device's DMA
 * buffer is 4 KiB at device address 0x40000; memory addresses are clamped
 * to its 28-bit DMA mask.  A DMA of 0 bytes, or one reaching outside the
 * buffer, stops QEMU with a hardware error; the model records a WARN
 * failure and moves nothing.  Below 0x80 only 32-bit accesses do anything;
 * above, 32- and 64-bit ones.  A DMA needs the bus-master bit of the PCI
 * command register, runs at once (QEMU runs it from a timer; the driver
 * polls the start bit either way) and goes through vfiosim_device_dma(): a
 * fault ends the transfer at the faulting leaf (the bytes before it have
 * moved; a read fills the rest of the device's buffer with zeros) and is
 * logged by the IOMMU.
 */
#ifndef LIBVFIOSIM_EDU_H
#define LIBVFIOSIM_EDU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libvfiosim/dev.h>
#include <libvfiosim/iommu.h>

#ifdef __cplusplus
extern "C" {
#endif

struct vfiosim_edu;

#define VFIOSIM_EDU_VENDOR 0x1234
#define VFIOSIM_EDU_DEVICE 0x11e8
#define VFIOSIM_EDU_BAR0_SIZE 0x100000ull
#define VFIOSIM_EDU_CONFIG_SIZE 256
#define VFIOSIM_EDU_DMA_START 0x40000ull
#define VFIOSIM_EDU_DMA_SIZE 4096

/**
 * vfiosim_edu_create() - an edu device probed into @group.
 * @w: the world.
 * @group: its IOMMU group.
 * @name: its name, the PCI address such as "0000:00:01.0" (copied).
 * @out: the device.
 *
 * Takes the group mutex: call from a simulated thread (or while the world
 * is being set up).  Fault point "dev.edu_alloc" and those of
 * vfiosim_device_create().
 *
 * Return: 0, -EINVAL for NULL arguments, -ENOMEM.
 */
int vfiosim_edu_create(struct vfiosim_world *w,
		       struct vfiosim_iommu_group *group, const char *name,
		       struct vfiosim_edu **out);

/**
 * vfiosim_edu_destroy() - release and free the device.
 * @edu: the device (NULL does nothing).
 *
 * Return: 0.
 */
int vfiosim_edu_destroy(struct vfiosim_edu *edu);

/** vfiosim_edu_name() - the device's name ("-" for NULL). */
const char *vfiosim_edu_name(const struct vfiosim_edu *edu);

/** vfiosim_edu_device() - the DMA engine behind the device. */
struct vfiosim_device *vfiosim_edu_device(const struct vfiosim_edu *edu);

/**
 * vfiosim_edu_mmio_read() - a CPU load from BAR0.
 * @edu: the device.
 * @offset: offset in BAR0.
 * @val: out, @size bytes: all ones where the device ignores an access of
 *	4 or 8 bytes, 0 for 1 or 2 bytes (below the smallest access QEMU's
 *	edu accepts; vfio-pci's reads of 1 or 2 bytes get 0 on the oracle).
 * @size: 1, 2, 4 or 8.
 *
 * Return: 0, -EINVAL (NULL, bad size, beyond the BAR).
 */
int vfiosim_edu_mmio_read(struct vfiosim_edu *edu, uint64_t offset, void *val,
			  unsigned int size);

/**
 * vfiosim_edu_mmio_write() - a CPU store to BAR0; a write of the DMA
 * command with the start bit runs the DMA.
 * @edu: the device.
 * @offset: offset in BAR0.
 * @val: @size bytes.
 * @size: 1, 2, 4 or 8.
 *
 * Return: 0, -EINVAL (NULL, bad size, beyond the BAR).
 */
int vfiosim_edu_mmio_write(struct vfiosim_edu *edu, uint64_t offset,
			   const void *val, unsigned int size);

/**
 * vfiosim_edu_config_read() - read the PCI configuration space.
 * @edu: the device.
 * @offset: offset in the 256-byte space.
 * @buf: out.
 * @len: bytes.
 *
 * Return: bytes read, -EINVAL beyond the space.
 */
int vfiosim_edu_config_read(struct vfiosim_edu *edu, uint64_t offset, void *buf,
			    size_t len);

/**
 * vfiosim_edu_config_write() - write the PCI configuration space, as
 * vfio-pci lets a user write it in the oracle VM: the command register (I/O,
 * memory, bus master, SERR, INTx disable), BAR0 (its address bits: writing
 * all ones reads back 0xfff00000, the 1 MiB size mask) and the interrupt
 * line; other bytes ignore writes.
 * @edu: the device.
 * @offset: offset in the 256-byte space.
 * @buf: the data.
 * @len: bytes.
 *
 * Return: bytes written, -EINVAL beyond the space.
 */
int vfiosim_edu_config_write(struct vfiosim_edu *edu, uint64_t offset,
			     const void *buf, size_t len);

/**
 * vfiosim_edu_assign() - the PCI resources the firmware gave the device,
 * as its configuration space shows them.
 * @edu: the device.
 * @bar0: BAR0's address (1 MiB aligned, not 0).  Default 0xfea00000, what
 *	the oracle VM's firmware gives a lone edu; with two edus it gave
 *	0xfe900000 to 00:01.0 and 0xfea00000 to 00:02.0.
 * @irq_line: the interrupt line register.  Default 10 (00:01.0; 00:02.0
 *	got 11).
 *
 * Return: 0, -EINVAL (NULL, @bar0 0 or not 1 MiB aligned).
 */
int vfiosim_edu_assign(struct vfiosim_edu *edu, uint32_t bar0,
		       uint8_t irq_line);

/**
 * typedef vfiosim_edu_irq_fn - the device's interrupt output.
 * @arg: as given to vfiosim_edu_set_irq_handler().
 * @msi: true for an MSI message (sent on every raise while MSI is on),
 *	false for a change of the INTx line.
 * @level: the INTx line's new level (true for an MSI message).
 *
 * Called from the register write (or DMA, factorial) that causes it, and
 * with level false from vfiosim_edu_set_msi() enabling MSI and from
 * vfiosim_edu_reset().
 */
typedef void (*vfiosim_edu_irq_fn)(void *arg, bool msi, bool level);

/**
 * vfiosim_edu_set_irq_handler() - where the device's interrupts go.
 * @edu: the device.
 * @fn: the handler, or NULL for none.
 * @arg: its argument.
 *
 * As QEMU's edu: raising an interrupt (0x60, a factorial with its
 * interrupt enabled, a DMA with bit 2) sends an MSI message if MSI is on,
 * else asserts INTx; acknowledging (0x64) every status bit deasserts it.
 *
 * Return: 0, -EINVAL for a NULL @edu.
 */
int vfiosim_edu_set_irq_handler(struct vfiosim_edu *edu, vfiosim_edu_irq_fn fn,
				void *arg);

/**
 * vfiosim_edu_set_msi() - set or clear the MSI capability's enable bit (as
 * the host's MSI setup does; vfio-pci hides it from the user's view of
 * config space).  Turning MSI on releases the INTx line; turning it off
 * does not assert it again (the next raise does), as in QEMU.
 * @edu: the device.
 * @enabled: the bit.
 *
 * Return: 0, -EINVAL for a NULL @edu.
 */
int vfiosim_edu_set_msi(struct vfiosim_edu *edu, bool enabled);

/**
 * vfiosim_edu_reset() - a function reset: registers, buffer, interrupt
 * status and the MSI enable bit cleared, the whole configuration space back
 * to its power-on contents (BAR0 and the interrupt line as last assigned by
 * vfiosim_edu_assign()).
 * @edu: the device.
 *
 * Return: 0, -EINVAL for NULL.
 */
int vfiosim_edu_reset(struct vfiosim_edu *edu);

/**
 * vfiosim_edu_buffer() - the device's 4 KiB DMA buffer, for tests.
 * @edu: the device.
 *
 * Return: the buffer, NULL for NULL.
 */
uint8_t *vfiosim_edu_buffer(struct vfiosim_edu *edu);

#ifdef __cplusplus
}
#endif

#endif /* LIBVFIOSIM_EDU_H */
