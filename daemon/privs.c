// SPDX-License-Identifier: MIT
#include "privs.h"

#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/capability.h>

#ifndef CAP_CHECKPOINT_RESTORE
#define CAP_CHECKPOINT_RESTORE 40
#endif

#define BIT(cap) (1ull << (cap))

uint64_t privs_effective(void)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data))
		return 0;
	return data[0].effective | (uint64_t)data[1].effective << 32;
}

static void add(char *buf, size_t len, int *n, const char *what)
{
	size_t used = strlen(buf);

	if (used < len)
		snprintf(buf + used, len - used, "%s%s", *n ? ", " : "", what);
	(*n)++;
}

int privs_missing(uint64_t eff, bool chown, char *buf, size_t len)
{
	int n = 0;

	if (len)
		buf[0] = '\0';
	if (!(eff & BIT(CAP_SYS_PTRACE)))
		add(buf, len, &n, "CAP_SYS_PTRACE");
	if (!(eff & BIT(CAP_DAC_OVERRIDE)))
		add(buf, len, &n, "CAP_DAC_OVERRIDE");
	if (!(eff & (BIT(CAP_CHECKPOINT_RESTORE) | BIT(CAP_SYS_ADMIN))))
		add(buf, len, &n, "CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN");
	if (chown && !(eff & BIT(CAP_CHOWN)))
		add(buf, len, &n, "CAP_CHOWN (for --owner/--group)");
	return n;
}
