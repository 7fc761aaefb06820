// SPDX-License-Identifier: MIT
/*
 * vuc-e2e: the end-to-end cases, one per run, as run-suite.sh calls them:
 *   vuc-e2e CASE [NODE [ARG]]
 * Exit 0 when the case passed, 1 when it failed, 2 on bad usage.
 */
#include <stdio.h>
#include <string.h>

#include "e2e.h"

struct entry {
	const char *name;
	e2e_fn fn;
	int needs_node; /* runs on the node run-suite.sh started */
	const char *what;
};

static const struct entry cases[] = {
    {"node", case_node, 1, "node is a char device with the mode asked (ARG: octal)"},
    {"container", case_container, 1, "API version, extensions, SET_IOMMU, IOMMU info"},
    {"device_info", case_device_info, 1, "device, region and IRQ info match the device"},
    {"config", case_config, 1, "config space header and capability walk"},
    {"bar0", case_bar0, 1, "BAR0 registers with pread/pwrite"},
    {"bar0_vec", case_bar0_vec, 1, "BAR0 registers with preadv/pwritev(2)"},
    {"bar2_sizes", case_bar2_sizes, 1, "BAR2 bulk transfers of 1 byte to 64 KiB"},
    {"out_of_range", case_out_of_range, 1, "outside a region: EINVAL (config: EFAULT)"},
    {"threads", case_threads, 1, "8 threads of the owner on their own BAR2 slices"},
    {"thread_churn", case_thread_churn, 1, "bursts from 8 threads end no daemon thread"},
    {"dma_memfd", case_dma_memfd, 1, "DMA both ways with memfd-backed memory"},
    {"dma_anon", case_dma_anon, 1, "DMA both ways with anonymous memory"},
    {"dma_span", case_dma_span, 1, "one DMA mapping over two memory mappings"},
    {"dma_cross_maps", case_dma_cross_maps, 1, "one transfer across two DMA mappings"},
    {"dma_unmap", case_dma_unmap, 1, "unmapped memory is out of the device's reach"},
    {"msix", case_msix, 1, "MSI-X vectors signal their eventfds"},
    {"intx", case_intx, 1, "INTx fires, automasks, unmask re-arms"},
    {"irq_deassign", case_irq_deassign, 1, "SET_IRQS with -1 de-assigns one vector"},
    {"irq_disable", case_irq_disable, 1, "SET_IRQS count 0 disables the index"},
    {"irq_trigger", case_irq_trigger, 1, "DATA_NONE/DATA_BOOL triggers; ERR and REQ"},
    {"reset", case_reset, 1, "VFIO_DEVICE_RESET clears the registers"},
    {"enotty", case_enotty, 1, "unknown ioctls fail with ENOTTY"},
    {"argsz", case_argsz, 1, "bad argsz and bad SET_IRQS fail with EINVAL/EBADF"},
    {"mmap", case_mmap, 1, "mmap fails with ENODEV"},
    {"ebusy", case_ebusy, 1, "a second open gets EBUSY, even by the owner"},
    {"release", case_release, 1, "owner's exit leaves no DMA maps or eventfds"},
    {"iommufd", case_iommufd, 1, "two devices in one IOAS through iommufd and cdevs (ARG: node b)"},
    {"iommufd_excl", case_iommufd_excl, 1, "one-fd node and bound cdev exclude each other"},
    {"groups", case_groups, 1, "two groups in one container on two servers (ARG: node b)"},
    {"groups_unset", case_groups_unset, 1, "UNSET_CONTAINER with mappings live"},
    {"sec_map_race", case_sec_map_race, 1, "map_files race: a read-only file is never written"},
    {"sec_pid_reuse", case_sec_pid_reuse, 1, "a new process with the owner's pid gets EBUSY"},
    {"sec_not_eventfd", case_sec_not_eventfd, 1, "SET_IRQS with a non-eventfd: EINVAL first"},
    {"sec_memlock", case_sec_memlock, 1, "DMA pins nothing: RLIMIT_MEMLOCK is not charged"},
    {"sec_fd_exhaust", case_sec_fd_exhaust, 0, "many mappings on one node starve no other"},
    {"sec_dma_remap", case_sec_dma_remap, 1, "memory replaced after MAP_DMA"},
    {"sec_dma_hang", case_sec_dma_hang, 0, "DMA of memory whose reads never return"},
    {"sec_server_stopped", case_sec_server_stopped, 0, "a server that neither reads nor answers"},
    {"eintr", case_eintr, 0, "a signal ends a request to a slow server with EINTR"},
    {"timeout", case_timeout, 0, "daemon --timeout shorter than the server: ETIMEDOUT"},
    {"server_kill", case_server_kill, 0, "server killed: pending and later requests EIO"},
    {"server_restart", case_server_restart, 0, "server restarted: the next open works"},
    {"caller_killed", case_caller_killed, 0, "a program killed mid-request dies at once"},
    {"sigterm", case_sigterm, 0, "daemon SIGTERM: exit 0, node gone"},
    {"nodes64", case_nodes64, 0, "64 nodes in one daemon"},
    {"devnum", case_devnum, 0, "--devnum: the node's number; a taken one refused"},
    {"container_alias", case_container_alias, 0, "a mknod copy reaches the device after a restart"},
    {"notify", case_notify, 0, "READY=1 once the node is usable, STOPPING=1 at SIGTERM"},
    {"sighup", case_sighup, 0, "SIGHUP is ignored, the node keeps working"},
    {"journal", case_journal, 0, "JOURNAL_STREAM: <N> priorities, no timestamps"},
    {"capabilities", case_capabilities, 0, "the unit's capabilities serve another user"},
    {"one_line", case_one_line, 0, "an unreachable server: one line with the reason"},
    {"away_log", case_away_log, 0, "a server away: one line gone, one line back"},
    {"fd_server", case_fd_server, 0, "a server socket passed as fd:N"},
    {"namespaces", case_namespaces, 0, "programs in user and pid namespaces"},
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))

static void usage(FILE *out)
{
	fprintf(out, "usage: vuc-e2e CASE [NODE [ARG]]\n       vuc-e2e --list\ncases:\n");
	for (size_t i = 0; i < NCASES; i++)
		fprintf(out, "  %-15s %s%s\n", cases[i].name, cases[i].what,
		        cases[i].needs_node ? " (NODE)" : "");
}

int main(int argc, char **argv)
{
	struct e2e t = {0};
	int ret;

	if (argc == 2 && !strcmp(argv[1], "--list")) {
		for (size_t i = 0; i < NCASES; i++)
			printf("%s %s\n", cases[i].name, cases[i].needs_node ? "node" : "own");
		return 0;
	}
	if (argc == 2 && !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; argc >= 2 && i < NCASES; i++) {
		if (strcmp(argv[1], cases[i].name))
			continue;
		if (cases[i].needs_node != (argc >= 3)) {
			usage(stderr);
			return 2;
		}
		t.node = argc >= 3 ? argv[2] : NULL;
		t.arg = argc >= 4 ? argv[3] : NULL;
		if (procs_init(&t.procs)) {
			perror("vuc-e2e: mkdtemp");
			return 1;
		}
		ret = cases[i].fn(&t);
		procs_fini(&t.procs);
		return ret ? 1 : 0;
	}
	usage(stderr);
	return 2;
}
