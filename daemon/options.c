// SPDX-License-Identifier: MIT
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "common/common.h"
#include "proto/client.h"

#define SUN_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)

enum {
	OPT_TIMEOUT = 256,
	OPT_OWNER,
	OPT_GROUP,
	OPT_MODE,
	OPT_DEVNUM,
	OPT_IOMMUFD,
	OPT_CONTAINER,
	OPT_GROUP_BASE,
	OPT_SYSFS,
	OPT_MODELS,
	OPT_DMA_BY_MESSAGE,
};

/* The iommufd and container nodes' names, the sysfs-like tree's place,
 * unless the options say otherwise. */
#define IOMMUFD_DEFAULT   "iommu"
#define CONTAINER_DEFAULT "vfio"
#define SYSFS_DEFAULT     "/run/vfio-user"
#define GROUP_BASE_MAX    100000

static const struct option long_opts[] = {
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"owner", required_argument, NULL, OPT_OWNER},
    {"group", required_argument, NULL, OPT_GROUP},
    {"mode", required_argument, NULL, OPT_MODE},
    {"devnum", required_argument, NULL, OPT_DEVNUM},
    {"iommufd", required_argument, NULL, OPT_IOMMUFD},
    {"container", required_argument, NULL, OPT_CONTAINER},
    {"group-base", required_argument, NULL, OPT_GROUP_BASE},
    {"sysfs", required_argument, NULL, OPT_SYSFS},
    {"models", required_argument, NULL, OPT_MODELS},
    {"foreground", no_argument, NULL, 'f'},
    {"dma-by-message", no_argument, NULL, OPT_DMA_BY_MESSAGE},
    {"verbose", no_argument, NULL, 'v'},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

void options_usage(FILE *f, const char *prog)
{
	fprintf(
	    f,
	    "Usage: %s [options] NAME=SERVER ...\n"
	    "Present each vfio-user server as a VFIO device node /dev/vfio-user/NAME\n"
	    "(container and device in one fd) and as a VFIO device cdev\n"
	    "/dev/vfio-user/devices/NAME, which binds to the daemon's iommufd node\n"
	    "/dev/vfio-user/iommu, as the kernel's /dev/vfio/devices/vfioN and /dev/iommu.\n"
	    "\n"
	    "SERVER is a unix socket path, unix:PATH, tcp:HOST:PORT, or fd:N (a connected\n"
	    "socket the daemon inherits, never reopened once that server is gone). TCP\n"
	    "passes no file descriptors: DMA goes by messages and eventfds are not possible.\n"
	    "NAME is 1-%d letters, digits, '.', '_', ':' or '-'; up to %d devices.\n"
	    "\n"
	    "Options:\n"
	    "  --timeout=MS     wait at most MS ms for each server reply (default %d)\n"
	    "  --owner=USER|UID owner of the device nodes (default root)\n"
	    "  --group=GROUP|GID group of the device nodes (default root)\n"
	    "  --mode=OCTAL     permissions of the device nodes (default 0600)\n"
	    "  --dma-by-message never hand a server a program's file: every\n"
	    "                   DMA goes by message through the daemon (for servers not\n"
	    "                   trusted with whole files)\n"
	    "  --devnum=NODE=MAJOR:MINOR\n"
	    "                   a fixed device number for /dev/vfio-user/NODE (NAME,\n"
	    "                   devices/NAME or the iommufd node), kept across restarts\n"
	    "                   (default: the kernel picks one); MAJOR 1-%d, MINOR 0-%d\n"
	    "  --iommufd=NAME   the iommufd node is /dev/vfio-user/NAME (default " IOMMUFD_DEFAULT
	    "):\n"
	    "                   if the default is taken (another daemon), the node is\n"
	    "                   iommu-NAME, after the first device's NAME\n"
	    "  --container=NAME the container node is /dev/vfio-user/NAME "
	    "(default " CONTAINER_DEFAULT ";\n"
	    "                   vfio-NAME if that is taken)\n"
	    "  --group-base=N   the devices' VFIO groups, /dev/vfio-user/groups/G, take\n"
	    "                   the first free numbers G from N on (default 0)\n"
	    "  --models=LIST    the device models to serve, comma-separated: node (the\n"
	    "                   one-fd node), iommufd (iommufd + device cdevs), legacy\n"
	    "                   (container + groups); default all. Each node takes one\n"
	    "                   of the kernel's ~140 dynamic majors: many devices want\n"
	    "                   fewer models (or --devnum)\n"
	    "  --sysfs=DIR      a sysfs-like directory per device, DIR/devices/NAME, for\n"
	    "                   programs that take a sysfs path (default " SYSFS_DEFAULT ")\n"
	    "  -f, --foreground accepted for FUSE's sake: the daemon always runs in the\n"
	    "                   foreground\n"
	    "  -v, --verbose    log more (-v info, -vv debug)\n"
	    "  -q, --quiet      log errors only\n"
	    "  -h, --help       show this help\n"
	    "  -V, --version    show the version\n"
	    "\n"
	    "Needs root (CAP_SYS_PTRACE, CAP_DAC_OVERRIDE, and CAP_SYS_ADMIN or\n"
	    "CAP_CHECKPOINT_RESTORE at least) and the cuse kernel module (modprobe cuse).\n"
	    "\n"
	    "Signals: SIGTERM or SIGINT removes the nodes and exits 0. SIGHUP is ignored.\n"
	    "\n"
	    "Environment: with NOTIFY_SOCKET (systemd's Type=notify) the daemon sends\n"
	    "READY=1 once every node is usable and STOPPING=1 at shutdown. With\n"
	    "JOURNAL_STREAM (its stderr is the journal) log lines carry <N> priority\n"
	    "prefixes and no timestamp.\n"
	    "\n"
	    "Exit status: 0 after a clean shutdown, 1 when a server cannot be reached or a\n"
	    "node cannot be created, 2 for a bad command line, missing privileges or no\n"
	    "/dev/cuse.\n",
	    prog, OPT_NAME_MAX, OPT_MAX_NODES, VU_DEFAULT_TIMEOUT_MS, OPT_MAJOR_MAX, OPT_MINOR_MAX);
}

/* A whole-string decimal (base 10) or octal (base 8) number in [0, max]. */
static int parse_ulong(const char *s, int base, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, base);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_owner(struct options *o, const char *s, char *err, size_t errlen)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	unsigned long v;

	if (parse_ulong(s, 10, UINT32_MAX - 1, &v) == 0) {
		o->uid = (uid_t)v;
		return 0;
	}
	if (getpwnam_r(s, &pw, buf, sizeof(buf), &res) != 0 || !res)
		return why_fail(-EINVAL, err, errlen, "--owner: no such user '%s'", s);
	o->uid = res->pw_uid;
	return 0;
}

static int parse_group(struct options *o, const char *s, char *err, size_t errlen)
{
	struct group gr, *res = NULL;
	char buf[4096];
	unsigned long v;

	if (parse_ulong(s, 10, UINT32_MAX - 1, &v) == 0) {
		o->gid = (gid_t)v;
		return 0;
	}
	if (getgrnam_r(s, &gr, buf, sizeof(buf), &res) != 0 || !res)
		return why_fail(-EINVAL, err, errlen, "--group: no such group '%s'", s);
	o->gid = res->gr_gid;
	return 0;
}

static int check_name(const char *name, size_t len, char *err, size_t errlen)
{
	size_t i;

	if (len == 0)
		return why_fail(-EINVAL, err, errlen,
		                "empty device name in '%s' (expected NAME=SERVER)", name);
	if (memchr(name, '/', len))
		return why_fail(-EINVAL, err, errlen,
		                "device name '%.*s' contains '/': give a plain name, the node is "
		                "/dev/vfio-user/NAME",
		                (int)len, name);
	if (len > OPT_NAME_MAX)
		return why_fail(-EINVAL, err, errlen,
		                "device name '%.*s' is longer than %d characters", (int)len, name,
		                OPT_NAME_MAX);
	if (name[0] == '.' || name[0] == '-')
		return why_fail(-EINVAL, err, errlen,
		                "device name '%.*s' must not start with '.' or '-'", (int)len,
		                name);
	for (i = 0; i < len; i++) {
		char c = name[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '.' || c == '_' || c == ':' || c == '-')
			continue;
		return why_fail(-EINVAL, err, errlen,
		                "device name '%.*s' may only have letters, digits, '.', '_', ':' "
		                "and '-'",
		                (int)len, name);
	}
	return 0;
}

static int check_tcp(const char *name, const char *hostport, char *err, size_t errlen)
{
	const char *colon = strrchr(hostport, ':');
	unsigned long port;

	if (!colon || colon == hostport)
		return why_fail(-EINVAL, err, errlen, "%s: server 'tcp:%s' is not tcp:HOST:PORT",
		                name, hostport);
	if (parse_ulong(colon + 1, 10, 65535, &port) || port == 0)
		return why_fail(-EINVAL, err, errlen, "%s: bad port '%s' in 'tcp:%s' (1-65535)",
		                name, colon + 1, hostport);
	return 0;
}

/* Check SERVER and give it its scheme: fd:N is an inherited socket, and
 * a path that looks like one is given as unix:PATH. */
static int make_server(const char *name, const char *s, char **out, char *err, size_t errlen)
{
	const char *path = s;
	unsigned long fd;
	int ret;

	if (!*s)
		return why_fail(-EINVAL, err, errlen, "%s: empty server address", name);
	if (!strncmp(s, "fd:", 3)) {
		if (parse_ulong(s + 3, 10, INT_MAX, &fd))
			return why_fail(-EINVAL, err, errlen, "%s: server '%s' is not fd:N", name,
			                s);
		if (asprintf(out, "fd:%lu", fd) < 0) {
			*out = NULL;
			return -ENOMEM;
		}
		return 0;
	}
	if (!strncmp(s, "tcp:", 4)) {
		ret = check_tcp(name, s + 4, err, errlen);
		if (ret)
			return ret;
		*out = strdup(s);
		return *out ? 0 : -ENOMEM;
	}
	if (!strncmp(s, "unix:", 5))
		path = s + 5;
	if (!*path)
		return why_fail(-EINVAL, err, errlen, "%s: empty socket path in '%s'", name, s);
	if (strlen(path) > SUN_PATH_MAX)
		return why_fail(-EINVAL, err, errlen,
		                "%s: socket path '%s' is longer than %zu bytes", name, path,
		                SUN_PATH_MAX);
	if (asprintf(out, "unix:%s", path) < 0) {
		*out = NULL;
		return -ENOMEM;
	}
	return 0;
}

static int add_node(struct options *o, const char *arg, char *err, size_t errlen)
{
	const char *eq = strchr(arg, '=');
	struct opt_node *n;
	size_t len, i;
	int ret;

	if (!eq)
		return why_fail(-EINVAL, err, errlen, "'%s' is not NAME=SERVER", arg);
	len = (size_t)(eq - arg);
	ret = check_name(arg, len, err, errlen);
	if (ret)
		return ret;
	for (i = 0; i < o->nr_nodes; i++)
		if (strlen(o->nodes[i].name) == len && !memcmp(o->nodes[i].name, arg, len))
			return why_fail(-EINVAL, err, errlen, "device name '%.*s' is given twice",
			                (int)len, arg);
	if (o->nr_nodes == OPT_MAX_NODES)
		return why_fail(-EINVAL, err, errlen, "too many devices: at most %d per daemon",
		                OPT_MAX_NODES);
	n = &o->nodes[o->nr_nodes];
	n->name = strndup(arg, len);
	if (!n->name)
		return -ENOMEM;
	ret = make_server(n->name, eq + 1, &n->server, err, errlen);
	/* One connection owns an inherited socket. */
	for (i = 0; !ret && !strncmp(n->server, "fd:", 3) && i < o->nr_nodes; i++)
		if (!strcmp(o->nodes[i].server, n->server))
			ret = why_fail(-EINVAL, err, errlen, "%s is given to '%s' and '%s'",
			               n->server, o->nodes[i].name, n->name);
	if (ret) {
		free(n->server);
		n->server = NULL;
		free(n->name);
		n->name = NULL;
		return ret;
	}
	o->nr_nodes++;
	return 0;
}

/* /dev/vfio-user/devices holds the cdevs, /dev/vfio-user/groups the
 * groups, and the iommufd and container nodes have their names: no device
 * may take any, nor may the two nodes. */
static int check_reserved(const struct options *o, char *err, size_t errlen)
{
	for (size_t i = 0; i < o->nr_nodes; i++) {
		const char *name = o->nodes[i].name;

		if (!strcmp(name, "devices") || !strcmp(name, "groups"))
			return why_fail(-EINVAL, err, errlen,
			                "device name '%s' is taken: /dev/vfio-user/%s holds the %s",
			                name, name,
			                !strcmp(name, "groups") ? "groups" : "device cdevs");
		if (!strcmp(name, o->iommufd))
			return why_fail(-EINVAL, err, errlen,
			                "device name '%s' is the iommufd node's (see --iommufd)",
			                o->iommufd);
		if (!strcmp(name, o->container))
			return why_fail(
			    -EINVAL, err, errlen,
			    "device name '%s' is the container node's (see --container)",
			    o->container);
	}
	if (!strcmp(o->iommufd, "devices") || !strcmp(o->container, "devices"))
		return why_fail(-EINVAL, err, errlen,
		                "--iommufd, --container: 'devices' holds the device cdevs");
	if (!strcmp(o->iommufd, "groups") || !strcmp(o->container, "groups"))
		return why_fail(-EINVAL, err, errlen,
		                "--iommufd, --container: 'groups' holds the groups");
	if (!strcmp(o->iommufd, o->container))
		return why_fail(-EINVAL, err, errlen,
		                "--iommufd and --container name the same node '%s'", o->iommufd);
	return 0;
}

/* --devnum=NODE=MAJOR:MINOR, checked now, matched to its node at the end. */
static int add_devnum(struct options *o, const char *arg, char *err, size_t errlen)
{
	const char *eq = strchr(arg, '='), *colon = eq ? strrchr(eq, ':') : NULL;
	size_t cdev = strncmp(arg, "devices/", 8) ? 0 : 8;
	struct opt_devnum *dn;
	unsigned long maj, min;
	char num[24];
	size_t len;
	int ret;

	if (!eq || !colon || (size_t)(colon - eq - 1) >= sizeof(num))
		return why_fail(-EINVAL, err, errlen, "--devnum: '%s' is not NODE=MAJOR:MINOR",
		                arg);
	len = (size_t)(eq - arg);
	ret = check_name(arg + cdev, len - cdev, err, errlen);
	if (ret)
		return ret;
	memcpy(num, eq + 1, (size_t)(colon - eq - 1));
	num[colon - eq - 1] = '\0';
	if (parse_ulong(num, 10, OPT_MAJOR_MAX, &maj) || maj == 0 ||
	    parse_ulong(colon + 1, 10, OPT_MINOR_MAX, &min))
		return why_fail(-EINVAL, err, errlen,
		                "--devnum: '%s' is not MAJOR:MINOR with MAJOR 1-%d, MINOR 0-%d",
		                eq + 1, OPT_MAJOR_MAX, OPT_MINOR_MAX);
	for (size_t i = 0; i < o->nr_devnums; i++) {
		if (strlen(o->devnums[i].name) == len && !memcmp(o->devnums[i].name, arg, len))
			return why_fail(-EINVAL, err, errlen,
			                "--devnum: device '%.*s' is given two numbers", (int)len,
			                arg);
		if (o->devnums[i].major == maj && o->devnums[i].minor == min)
			return why_fail(-EINVAL, err, errlen,
			                "--devnum: %lu:%lu is given to '%s' and '%.*s'", maj, min,
			                o->devnums[i].name, (int)len, arg);
	}
	if (o->nr_devnums == OPT_MAX_NODES)
		return why_fail(-EINVAL, err, errlen, "--devnum: at most %d", OPT_MAX_NODES);
	dn = &o->devnums[o->nr_devnums++];
	memcpy(dn->name, arg, len);
	dn->name[len] = '\0';
	dn->major = (unsigned int)maj;
	dn->minor = (unsigned int)min;
	return 0;
}

static int apply_devnums(struct options *o, char *err, size_t errlen)
{
	for (size_t i = 0; i < o->nr_devnums; i++) {
		const struct opt_devnum *dn = &o->devnums[i];
		const char *name = dn->name;
		bool cdev = !strncmp(name, "devices/", 8);
		size_t n;

		/* A number for a node that --models leaves out would go unused. */
		if (!(o->models &
		      (cdev || !strcmp(name, o->iommufd) ? OPT_MODEL_IOMMUFD : OPT_MODEL_NODE)))
			return why_fail(-EINVAL, err, errlen,
			                "--devnum: no node %s is served (see --models)", name);
		if (!strcmp(name, o->iommufd)) {
			o->iommu_major = dn->major;
			o->iommu_minor = dn->minor;
			continue;
		}
		for (n = 0; n < o->nr_nodes; n++)
			if (!strcmp(o->nodes[n].name, cdev ? name + 8 : name))
				break;
		if (n == o->nr_nodes)
			return why_fail(
			    -EINVAL, err, errlen,
			    "--devnum: no device '%s' given (NAME=SERVER), nor is it the "
			    "iommufd node",
			    cdev ? name + 8 : name);
		if (cdev) {
			o->nodes[n].cdev_major = dn->major;
			o->nodes[n].cdev_minor = dn->minor;
		} else {
			o->nodes[n].major = dn->major;
			o->nodes[n].minor = dn->minor;
		}
	}
	return 0;
}

static int parse_models(struct options *o, const char *arg, char *err, size_t errlen)
{
	static const struct {
		const char *name;
		unsigned int bit;
	} models[] = {
	    {"node", OPT_MODEL_NODE}, {"iommufd", OPT_MODEL_IOMMUFD}, {"legacy", OPT_MODEL_LEGACY}};
	const char *p = arg;

	o->models = 0;
	while (*p) {
		size_t len = strcspn(p, ","), i;

		for (i = 0; i < sizeof(models) / sizeof(models[0]); i++)
			if (strlen(models[i].name) == len && !strncmp(p, models[i].name, len))
				break;
		if (i == sizeof(models) / sizeof(models[0]))
			return why_fail(-EINVAL, err, errlen,
			                "--models: '%.*s' is not node, iommufd or legacy", (int)len,
			                p);
		o->models |= models[i].bit;
		p += len + (p[len] == ',');
	}
	if (!o->models)
		return why_fail(-EINVAL, err, errlen,
		                "--models: give at least one of node, iommufd, legacy");
	return 0;
}

static int parse_option(struct options *o, int c, const char *arg, int *verbosity, char *err,
                        size_t errlen)
{
	unsigned long v;

	switch (c) {
	case OPT_TIMEOUT:
		if (parse_ulong(arg, 10, OPT_TIMEOUT_MAX_MS, &v) || v == 0)
			return why_fail(-EINVAL, err, errlen,
			                "--timeout: '%s' is not a number of ms in 1-%d", arg,
			                OPT_TIMEOUT_MAX_MS);
		o->timeout_ms = (int)v;
		return 0;
	case OPT_OWNER:
		return parse_owner(o, arg, err, errlen);
	case OPT_GROUP:
		return parse_group(o, arg, err, errlen);
	case OPT_MODE:
		if (parse_ulong(arg, 8, 0777, &v))
			return why_fail(-EINVAL, err, errlen,
			                "--mode: '%s' is not an octal mode in 0-0777", arg);
		o->mode = (int)v;
		return 0;
	case OPT_DMA_BY_MESSAGE:
		o->dma_by_message = true;
		return 0;
	case OPT_IOMMUFD:
		if (check_name(arg, strlen(arg), err, errlen))
			return -EINVAL;
		snprintf(o->iommufd, sizeof(o->iommufd), "%s", arg);
		o->iommufd_given = true;
		return 0;
	case OPT_CONTAINER:
		if (check_name(arg, strlen(arg), err, errlen))
			return -EINVAL;
		snprintf(o->container, sizeof(o->container), "%s", arg);
		o->container_given = true;
		return 0;
	case OPT_GROUP_BASE:
		if (parse_ulong(arg, 10, GROUP_BASE_MAX, &v))
			return why_fail(-EINVAL, err, errlen,
			                "--group-base: '%s' is not a number in 0-%d", arg,
			                GROUP_BASE_MAX);
		o->group_base = (unsigned int)v;
		return 0;
	case OPT_MODELS:
		return parse_models(o, arg, err, errlen);
	case OPT_SYSFS:
		if (arg[0] != '/' || strlen(arg) > 200)
			return why_fail(-EINVAL, err, errlen,
			                "--sysfs: '%s' is not an absolute path of at most 200",
			                arg);
		free(o->sysfs);
		o->sysfs = strdup(arg);
		return o->sysfs ? 0 : -ENOMEM;
	case OPT_DEVNUM:
		return add_devnum(o, arg, err, errlen);
	case 'f':
		/* FUSE programs take -f for "foreground"; this one never leaves it. */
		return 0;
	case 'v':
		(*verbosity)++;
		return 0;
	case 'q':
		(*verbosity)--;
		return 0;
	case 'h':
		o->help = true;
		return 0;
	case 'V':
		o->version = true;
		return 0;
	}
	return -EINVAL;
}

static enum vu_log_level level_of(int verbosity)
{
	int lvl = VU_LOG_WARN + verbosity;

	if (lvl < VU_LOG_ERR)
		return VU_LOG_ERR;
	if (lvl > VU_LOG_DEBUG)
		return VU_LOG_DEBUG;
	return (enum vu_log_level)lvl;
}

static int bad_option(int argc, char **argv, int c, char *err, size_t errlen)
{
	const char *arg = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
	const char *eq;

	if (c == ':')
		return why_fail(-EINVAL, err, errlen, "option '%s' needs a value", arg);
	if (strncmp(arg, "--", 2))
		return why_fail(-EINVAL, err, errlen, "unknown option '-%c'", optopt);
	/* getopt names the option in optopt when it is known but got a value. */
	eq = strchr(arg, '=');
	if (eq && optopt)
		return why_fail(-EINVAL, err, errlen, "option '%.*s' takes no value",
		                (int)(eq - arg), arg);
	return why_fail(-EINVAL, err, errlen, "unknown option '%s'", arg);
}

int options_parse(struct options *o, int argc, char **argv, char *err, size_t errlen)
{
	int verbosity = 0;
	int c, ret;

	memset(o, 0, sizeof(*o));
	o->timeout_ms = VU_DEFAULT_TIMEOUT_MS;
	o->uid = (uid_t)-1;
	o->gid = (gid_t)-1;
	o->mode = -1;
	snprintf(o->iommufd, sizeof(o->iommufd), "%s", IOMMUFD_DEFAULT);
	snprintf(o->container, sizeof(o->container), "%s", CONTAINER_DEFAULT);
	o->models = OPT_MODEL_NODE | OPT_MODEL_IOMMUFD | OPT_MODEL_LEGACY;
	o->sysfs = strdup(SYSFS_DEFAULT);
	if (!o->sysfs)
		return -ENOMEM;
	err[0] = '\0';

	/* getopt keeps its state in globals: optind = 0 restarts it fully. */
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":fvqhV", long_opts, NULL)) != -1) {
		if (c == '?' || c == ':')
			return bad_option(argc, argv, c, err, errlen);
		ret = parse_option(o, c, optarg, &verbosity, err, errlen);
		if (ret)
			return ret;
	}
	o->level = level_of(verbosity);
	if (o->help || o->version)
		return 0;
	for (; optind < argc; optind++) {
		ret = add_node(o, argv[optind], err, errlen);
		if (ret)
			return ret;
	}
	if (o->nr_nodes == 0)
		return why_fail(-EINVAL, err, errlen, "no device given: expected NAME=SERVER");
	ret = check_reserved(o, err, errlen);
	if (ret)
		return ret;
	return apply_devnums(o, err, errlen);
}

void options_free(struct options *o)
{
	size_t i;

	free(o->sysfs);
	o->sysfs = NULL;
	for (i = 0; i < o->nr_nodes; i++) {
		free(o->nodes[i].name);
		free(o->nodes[i].server);
	}
	o->nr_nodes = 0;
}
