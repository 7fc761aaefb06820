// SPDX-License-Identifier: MIT
/* PCI configuration space decoding: header, BARs, capability lists. */
#include "pci_config.h"

#include <inttypes.h>
#include <stdio.h>

#include <linux/pci_regs.h>

#include "common/pci.h"

static unsigned int rd8(const struct pci_view *v, size_t off)
{
	return off < v->size ? v->cfg[off] : 0xff;
}

static unsigned int rd16(const struct pci_view *v, size_t off)
{
	return rd8(v, off) | rd8(v, off + 1) << 8;
}

static uint32_t rd32(const struct pci_view *v, size_t off)
{
	return rd16(v, off) | (uint32_t)rd16(v, off + 2) << 16;
}

static char flag(unsigned int value, unsigned int bit)
{
	return value & bit ? '+' : '-';
}

static void print_size(uint64_t size)
{
	static const char unit[] = "KMGTPE";
	int u = -1;

	while (size >= 1024 && !(size % 1024) && u < 5) {
		size /= 1024;
		u++;
	}
	if (u < 0)
		printf(" [size=%" PRIu64 "]", size);
	else
		printf(" [size=%" PRIu64 "%c]", size, unit[u]);
}

static const char *class_name(unsigned int base)
{
	static const char *const names[] = {
	    "Unclassified device",
	    "Mass storage controller",
	    "Network controller",
	    "Display controller",
	    "Multimedia controller",
	    "Memory controller",
	    "Bridge",
	    "Communication controller",
	    "Generic system peripheral",
	    "Input device controller",
	    "Docking station",
	    "Processor",
	    "Serial bus controller",
	    "Wireless controller",
	    "Intelligent controller",
	    "Satellite communications controller",
	    "Encryption controller",
	    "Signal processing controller",
	    "Processing accelerators",
	    "Non-Essential Instrumentation",
	};

	if (base < sizeof(names) / sizeof(names[0]))
		return names[base];
	return base == 0xff ? "Unassigned class" : "Unknown class";
}

static void print_ids(const struct pci_view *v)
{
	unsigned int class = rd16(v, PCI_CLASS_DEVICE);

	printf("%s [%04x] prog-if %02x: Device %04x:%04x (rev %02x)\n", class_name(class >> 8),
	       class, rd8(v, PCI_CLASS_PROG), rd16(v, PCI_VENDOR_ID), rd16(v, PCI_DEVICE_ID),
	       rd8(v, PCI_REVISION_ID));
	printf("\tSubsystem: %04x:%04x\n", rd16(v, PCI_SUBSYSTEM_VENDOR_ID),
	       rd16(v, PCI_SUBSYSTEM_ID));
}

static void print_control_status(const struct pci_view *v)
{
	unsigned int cmd = rd16(v, PCI_COMMAND), st = rd16(v, PCI_STATUS);
	static const char *const devsel[] = {"fast", "medium", "slow", "??"};

	printf("\tControl: I/O%c Mem%c BusMaster%c SpecCycle%c MemWINV%c VGASnoop%c "
	       "ParErr%c Stepping%c SERR%c FastB2B%c DisINTx%c\n",
	       flag(cmd, PCI_COMMAND_IO), flag(cmd, PCI_COMMAND_MEMORY),
	       flag(cmd, PCI_COMMAND_MASTER), flag(cmd, PCI_COMMAND_SPECIAL),
	       flag(cmd, PCI_COMMAND_INVALIDATE), flag(cmd, PCI_COMMAND_VGA_PALETTE),
	       flag(cmd, PCI_COMMAND_PARITY), flag(cmd, PCI_COMMAND_WAIT),
	       flag(cmd, PCI_COMMAND_SERR), flag(cmd, PCI_COMMAND_FAST_BACK),
	       flag(cmd, PCI_COMMAND_INTX_DISABLE));
	printf("\tStatus: Cap%c 66MHz%c UDF%c FastB2B%c ParErr%c DEVSEL=%s >TAbort%c "
	       "<TAbort%c <MAbort%c >SERR%c <PERR%c INTx%c\n",
	       flag(st, PCI_STATUS_CAP_LIST), flag(st, PCI_STATUS_66MHZ), flag(st, PCI_STATUS_UDF),
	       flag(st, PCI_STATUS_FAST_BACK), flag(st, PCI_STATUS_PARITY),
	       devsel[(st & PCI_STATUS_DEVSEL_MASK) >> 9], flag(st, PCI_STATUS_SIG_TARGET_ABORT),
	       flag(st, PCI_STATUS_REC_TARGET_ABORT), flag(st, PCI_STATUS_REC_MASTER_ABORT),
	       flag(st, PCI_STATUS_SIG_SYSTEM_ERROR), flag(st, PCI_STATUS_DETECTED_PARITY),
	       flag(st, PCI_STATUS_INTERRUPT));
}

static void print_interrupt(const struct pci_view *v)
{
	unsigned int pin = rd8(v, PCI_INTERRUPT_PIN);

	if (pin >= 1 && pin <= 4)
		printf("\tInterrupt: pin %c routed to IRQ %u\n", 'A' + pin - 1,
		       rd8(v, PCI_INTERRUPT_LINE));
	else if (pin)
		printf("\tInterrupt: invalid pin %u\n", pin);
}

/* One BAR; returns how many BAR slots it used (2 for a 64-bit BAR). */
static int print_bar(const struct pci_view *v, int i)
{
	uint32_t lo = rd32(v, PCI_BASE_ADDRESS_0 + 4 * i);
	uint64_t addr, size = v->bar_size[i];
	int is64 = 0;

	if (!lo && !size)
		return 1;
	if (lo & PCI_BASE_ADDRESS_SPACE_IO) {
		printf("\tRegion %d: I/O ports at %04" PRIx32, i,
		       (uint32_t)(lo & PCI_BASE_ADDRESS_IO_MASK));
	} else {
		is64 = (lo & PCI_BASE_ADDRESS_MEM_TYPE_MASK) == PCI_BASE_ADDRESS_MEM_TYPE_64 &&
		       i < PCI_STD_NUM_BARS - 1;
		addr = lo & PCI_BASE_ADDRESS_MEM_MASK;
		if (is64)
			addr |= (uint64_t)rd32(v, PCI_BASE_ADDRESS_0 + 4 * (i + 1)) << 32;
		printf("\tRegion %d: Memory at %08" PRIx64 " (%s-bit, %sprefetchable)", i, addr,
		       is64 ? "64" : "32", lo & PCI_BASE_ADDRESS_MEM_PREFETCH ? "" : "non-");
	}
	print_size(size);
	printf("\n");
	return is64 ? 2 : 1;
}

static void print_bars(const struct pci_view *v)
{
	uint32_t rom = rd32(v, PCI_ROM_ADDRESS);

	for (int i = 0; i < PCI_STD_NUM_BARS;)
		i += print_bar(v, i);
	if (rom || v->bar_size[6]) {
		printf("\tExpansion ROM at %08" PRIx32 " [%s]", rom & PCI_ROM_ADDRESS_MASK,
		       rom & PCI_ROM_ADDRESS_ENABLE ? "enabled" : "disabled");
		print_size(v->bar_size[6]);
		printf("\n");
	}
}

static void print_pm(const struct pci_view *v, unsigned int at)
{
	unsigned int pmc = rd16(v, at + PCI_PM_PMC), ctl = rd16(v, at + PCI_PM_CTRL);

	printf("Power Management version %u\n", pmc & PCI_PM_CAP_VER_MASK);
	printf("\t\tFlags: PMEClk%c DSI%c D1%c D2%c AuxCurrent=%umA "
	       "PME(D0%c,D1%c,D2%c,D3hot%c,D3cold%c)\n",
	       flag(pmc, PCI_PM_CAP_PME_CLOCK), flag(pmc, PCI_PM_CAP_DSI), flag(pmc, PCI_PM_CAP_D1),
	       flag(pmc, PCI_PM_CAP_D2), ((pmc & PCI_PM_CAP_AUX_POWER) >> 6) * 55,
	       flag(pmc, PCI_PM_CAP_PME_D0), flag(pmc, PCI_PM_CAP_PME_D1),
	       flag(pmc, PCI_PM_CAP_PME_D2), flag(pmc, PCI_PM_CAP_PME_D3hot),
	       flag(pmc, PCI_PM_CAP_PME_D3cold));
	printf("\t\tStatus: D%u NoSoftRst%c PME-Enable%c DSel=%u DScale=%u PME%c\n",
	       ctl & PCI_PM_CTRL_STATE_MASK, flag(ctl, PCI_PM_CTRL_NO_SOFT_RESET),
	       flag(ctl, PCI_PM_CTRL_PME_ENABLE), (ctl & PCI_PM_CTRL_DATA_SEL_MASK) >> 9,
	       (ctl & PCI_PM_CTRL_DATA_SCALE_MASK) >> 13, flag(ctl, PCI_PM_CTRL_PME_STATUS));
}

static void print_msi(const struct pci_view *v, unsigned int at)
{
	unsigned int ctl = rd16(v, at + PCI_MSI_FLAGS);
	int is64 = ctl & PCI_MSI_FLAGS_64BIT;
	uint64_t addr = rd32(v, at + PCI_MSI_ADDRESS_LO);

	if (is64)
		addr |= (uint64_t)rd32(v, at + PCI_MSI_ADDRESS_HI) << 32;
	printf("MSI: Enable%c Count=%u/%u Maskable%c 64bit%c\n", flag(ctl, PCI_MSI_FLAGS_ENABLE),
	       1u << ((ctl & PCI_MSI_FLAGS_QSIZE) >> 4), 1u << ((ctl & PCI_MSI_FLAGS_QMASK) >> 1),
	       flag(ctl, PCI_MSI_FLAGS_MASKBIT), flag(ctl, PCI_MSI_FLAGS_64BIT));
	printf("\t\tAddress: %016" PRIx64 "  Data: %04x\n", addr,
	       rd16(v, at + (is64 ? PCI_MSI_DATA_64 : PCI_MSI_DATA_32)));
}

static void print_msix(const struct pci_view *v, unsigned int at)
{
	unsigned int ctl = rd16(v, at + PCI_MSIX_FLAGS);
	uint32_t table = rd32(v, at + PCI_MSIX_TABLE), pba = rd32(v, at + PCI_MSIX_PBA);

	printf("MSI-X: Enable%c Count=%u Masked%c\n", flag(ctl, PCI_MSIX_FLAGS_ENABLE),
	       (ctl & PCI_MSIX_FLAGS_QSIZE) + 1, flag(ctl, PCI_MSIX_FLAGS_MASKALL));
	printf("\t\tVector table: BAR=%" PRIu32 " offset=%08" PRIx32 "\n",
	       table & PCI_MSIX_TABLE_BIR, table & PCI_MSIX_TABLE_OFFSET);
	printf("\t\tPBA: BAR=%" PRIu32 " offset=%08" PRIx32 "\n", pba & PCI_MSIX_PBA_BIR,
	       pba & PCI_MSIX_PBA_OFFSET);
}

static const char *exp_type(unsigned int type)
{
	static const char *const names[] = {
	    [PCI_EXP_TYPE_ENDPOINT] = "Endpoint",
	    [PCI_EXP_TYPE_LEG_END] = "Legacy Endpoint",
	    [PCI_EXP_TYPE_ROOT_PORT] = "Root Port",
	    [PCI_EXP_TYPE_UPSTREAM] = "Upstream Port",
	    [PCI_EXP_TYPE_DOWNSTREAM] = "Downstream Port",
	    [PCI_EXP_TYPE_PCI_BRIDGE] = "PCI-Express to PCI/PCI-X Bridge",
	    [PCI_EXP_TYPE_PCIE_BRIDGE] = "PCI/PCI-X to PCI-Express Bridge",
	    [PCI_EXP_TYPE_RC_END] = "Root Complex Integrated Endpoint",
	    [PCI_EXP_TYPE_RC_EC] = "Root Complex Event Collector",
	};

	return type < sizeof(names) / sizeof(names[0]) && names[type] ? names[type] : "Unknown";
}

static void print_exp(const struct pci_view *v, unsigned int at)
{
	unsigned int flags = rd16(v, at + PCI_EXP_FLAGS);
	uint32_t devcap = rd32(v, at + PCI_EXP_DEVCAP);
	unsigned int devctl = rd16(v, at + PCI_EXP_DEVCTL), lnksta = rd16(v, at + PCI_EXP_LNKSTA);

	printf("Express (v%u) %s, MSI %02x\n", flags & PCI_EXP_FLAGS_VERS,
	       exp_type((flags & PCI_EXP_FLAGS_TYPE) >> 4), (flags & PCI_EXP_FLAGS_IRQ) >> 9);
	printf("\t\tDevCap: MaxPayload %u bytes, PhantFunc %u\n",
	       128u << (devcap & PCI_EXP_DEVCAP_PAYLOAD), (devcap & PCI_EXP_DEVCAP_PHANTOM) >> 3);
	printf("\t\tDevCtl: MaxPayload %u bytes, MaxReadReq %u bytes\n",
	       128u << ((devctl & PCI_EXP_DEVCTL_PAYLOAD) >> 5),
	       128u << ((devctl & PCI_EXP_DEVCTL_READRQ) >> 12));
	printf("\t\tLnkSta: Speed %u, Width x%u\n", lnksta & PCI_EXP_LNKSTA_CLS,
	       (lnksta & PCI_EXP_LNKSTA_NLW) >> PCI_EXP_LNKSTA_NLW_SHIFT);
}

static const char *cap_name(unsigned int id)
{
	static const char *const names[] = {
	    [PCI_CAP_ID_AGP] = "AGP",
	    [PCI_CAP_ID_VPD] = "Vital Product Data",
	    [PCI_CAP_ID_SLOTID] = "Slot ID",
	    [PCI_CAP_ID_CHSWP] = "CompactPCI hot-swap",
	    [PCI_CAP_ID_PCIX] = "PCI-X",
	    [PCI_CAP_ID_HT] = "HyperTransport",
	    [PCI_CAP_ID_VNDR] = "Vendor Specific Information",
	    [PCI_CAP_ID_DBG] = "Debug port",
	    [PCI_CAP_ID_CCRC] = "CompactPCI central resource control",
	    [PCI_CAP_ID_SHPC] = "Hot-plug capable",
	    [PCI_CAP_ID_SSVID] = "Subsystem",
	    [PCI_CAP_ID_AGP3] = "AGP3",
	    [PCI_CAP_ID_SECDEV] = "Secure device",
	    [PCI_CAP_ID_SATA] = "SATA HBA",
	    [PCI_CAP_ID_AF] = "PCI Advanced Features",
	    [PCI_CAP_ID_EA] = "Enhanced Allocation",
	};

	return id < sizeof(names) / sizeof(names[0]) ? names[id] : NULL;
}

static void print_cap(const struct pci_view *v, unsigned int at, unsigned int id)
{
	const char *name;

	printf("\tCapabilities: [%02x] ", at);
	switch (id) {
	case PCI_CAP_ID_PM:
		print_pm(v, at);
		break;
	case PCI_CAP_ID_MSI:
		print_msi(v, at);
		break;
	case PCI_CAP_ID_MSIX:
		print_msix(v, at);
		break;
	case PCI_CAP_ID_EXP:
		print_exp(v, at);
		break;
	default:
		name = cap_name(id);
		if (name)
			printf("%s <?>\n", name);
		else
			printf("Unknown capability id %02x\n", id);
	}
}

static void cap_found(void *arg, unsigned int at, unsigned int id)
{
	print_cap(arg, at, id);
}

static void print_caps(const struct pci_view *v)
{
	struct pci_walk w = pci_walk_caps(v->cfg, v->size, cap_found, (void *)v);

	if (w.end == PCI_WALK_RANGE)
		printf("\tCapabilities: [%02x] <pointer out of range>\n", w.bad);
	else if (w.end == PCI_WALK_LOOP)
		printf("\tCapabilities: <list loops; stopped after %u>\n", w.nr);
}

static const char *ext_cap_name(unsigned int id)
{
	static const char *const names[] = {
	    [PCI_EXT_CAP_ID_ERR] = "Advanced Error Reporting",
	    [PCI_EXT_CAP_ID_VC] = "Virtual Channel",
	    [PCI_EXT_CAP_ID_DSN] = "Device Serial Number",
	    [PCI_EXT_CAP_ID_PWR] = "Power Budgeting",
	    [PCI_EXT_CAP_ID_VNDR] = "Vendor Specific",
	    [PCI_EXT_CAP_ID_ACS] = "Access Control Services",
	    [PCI_EXT_CAP_ID_ARI] = "Alternative Routing-ID Interpretation",
	    [PCI_EXT_CAP_ID_ATS] = "Address Translation Service",
	    [PCI_EXT_CAP_ID_SRIOV] = "Single Root I/O Virtualization",
	    [PCI_EXT_CAP_ID_PRI] = "Page Request Interface",
	    [PCI_EXT_CAP_ID_REBAR] = "Physical Resizable BAR",
	    [PCI_EXT_CAP_ID_TPH] = "Transaction Processing Hints",
	    [PCI_EXT_CAP_ID_LTR] = "Latency Tolerance Reporting",
	    [PCI_EXT_CAP_ID_SECPCI] = "Secondary PCI Express",
	    [PCI_EXT_CAP_ID_PASID] = "Process Address Space ID",
	    [PCI_EXT_CAP_ID_DPC] = "Downstream Port Containment",
	    [PCI_EXT_CAP_ID_L1SS] = "L1 PM Substates",
	    [PCI_EXT_CAP_ID_PTM] = "Precision Time Measurement",
	    [PCI_EXT_CAP_ID_DVSEC] = "Designated Vendor-Specific",
	    [PCI_EXT_CAP_ID_DOE] = "Data Object Exchange",
	};

	return id < sizeof(names) / sizeof(names[0]) ? names[id] : NULL;
}

static void ext_cap_found(void *arg, unsigned int at, uint32_t hdr)
{
	const char *name = ext_cap_name(PCI_EXT_CAP_ID(hdr));

	printf("\tCapabilities: [%03x v%u] ", at, PCI_EXT_CAP_VER(hdr));
	if (name)
		printf("%s\n", name);
	else
		printf("Unknown extended capability id %04x\n", PCI_EXT_CAP_ID(hdr));
}

static void print_ext_caps(const struct pci_view *v)
{
	struct pci_walk w;

	if (v->size < PCI_CFG_SPACE_EXP_SIZE)
		return;
	w = pci_walk_ext_caps(v->cfg, v->size, ext_cap_found, NULL);
	if (w.end == PCI_WALK_RANGE)
		printf("\tCapabilities: [%03x] <pointer out of range>\n", w.bad);
	else if (w.end == PCI_WALK_LOOP)
		printf("\tCapabilities: <extended list loops; stopped after %u>\n", w.nr);
}

void pci_print(const struct pci_view *v)
{
	unsigned int type = rd8(v, PCI_HEADER_TYPE) & PCI_HEADER_TYPE_MASK;

	print_ids(v);
	print_control_status(v);
	print_interrupt(v);
	if (type == PCI_HEADER_TYPE_NORMAL)
		print_bars(v);
	else
		printf("\tHeader type %02x: not an endpoint; BARs not decoded\n", type);
	print_caps(v);
	print_ext_caps(v);
}
