/* SPDX-License-Identifier: MIT */
/* The end-to-end cases: each runs in its own process, on the node it is given
 * or on daemons and servers it starts itself. */
#ifndef VUC_E2E_H
#define VUC_E2E_H

#include "procs.h"

struct e2e {
	const char *node; /* /dev/vfio-user/NAME started by run-suite.sh, or NULL */
	const char *arg;  /* the case's extra argument, or NULL */
	struct procs procs;
};

typedef int (*e2e_fn)(struct e2e *t);

/* cases_info.c */
int case_node(struct e2e *t);
int case_container(struct e2e *t);
int case_device_info(struct e2e *t);
int case_config(struct e2e *t);
/* cases_io.c */
int case_bar0(struct e2e *t);
int case_bar0_vec(struct e2e *t);
int case_bar2_sizes(struct e2e *t);
int case_out_of_range(struct e2e *t);
int case_threads(struct e2e *t);
int case_thread_churn(struct e2e *t);
/* cases_dma.c */
int case_dma_memfd(struct e2e *t);
int case_dma_anon(struct e2e *t);
int case_dma_span(struct e2e *t);
int case_dma_cross_maps(struct e2e *t);
int case_dma_unmap(struct e2e *t);
/* cases_irq.c */
int case_msix(struct e2e *t);
int case_intx(struct e2e *t);
int case_irq_deassign(struct e2e *t);
int case_irq_disable(struct e2e *t);
int case_irq_trigger(struct e2e *t);
/* cases_errors.c */
int case_reset(struct e2e *t);
int case_enotty(struct e2e *t);
int case_argsz(struct e2e *t);
int case_mmap(struct e2e *t);
/* cases_owner.c */
int case_ebusy(struct e2e *t);
int case_release(struct e2e *t);
/* cases_iommufd.c */
int case_iommufd(struct e2e *t);
int case_iommufd_excl(struct e2e *t);
/* cases_group.c */
int case_groups(struct e2e *t);
int case_groups_unset(struct e2e *t);
/* cases_sec.c */
int case_sec_map_race(struct e2e *t);
int case_sec_pid_reuse(struct e2e *t);
int case_sec_not_eventfd(struct e2e *t);
int case_sec_memlock(struct e2e *t);
int case_sec_fd_exhaust(struct e2e *t);
int case_sec_dma_remap(struct e2e *t);
int case_sec_dma_hang(struct e2e *t);
int case_sec_server_stopped(struct e2e *t);
/* cases_life.c */
int case_eintr(struct e2e *t);
int case_timeout(struct e2e *t);
int case_server_kill(struct e2e *t);
int case_server_restart(struct e2e *t);
int case_caller_killed(struct e2e *t);
int case_sigterm(struct e2e *t);
int case_nodes64(struct e2e *t);
/* cases_service.c */
int case_devnum(struct e2e *t);
int case_container_alias(struct e2e *t);
int case_notify(struct e2e *t);
int case_sighup(struct e2e *t);
int case_journal(struct e2e *t);
int case_capabilities(struct e2e *t);
int case_one_line(struct e2e *t);
int case_away_log(struct e2e *t);
int case_fd_server(struct e2e *t);
int case_namespaces(struct e2e *t);

#endif
