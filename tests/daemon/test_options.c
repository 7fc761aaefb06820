// SPDX-License-Identifier: MIT
/* The daemon's command line: every accepted form and every refusal. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "options.h"

#define MAX_ARGS (OPT_MAX_NODES + 8)

struct parsed {
	struct options o;
	char err[512];
	int ret;
};

/* Parse a NULL-terminated argument list (without the program name). */
static struct parsed *parse(const char *first, ...)
{
	static char *argv[MAX_ARGS];
	struct parsed *p = calloc(1, sizeof(*p));
	const char *a;
	va_list ap;
	int argc = 0;

	assert_non_null(p);
	argv[argc++] = "vfio-user-cuse";
	va_start(ap, first);
	for (a = first; a; a = va_arg(ap, const char *)) {
		assert_true(argc < MAX_ARGS - 1);
		argv[argc++] = (char *)a;
	}
	va_end(ap);
	argv[argc] = NULL;
	p->ret = options_parse(&p->o, argc, argv, p->err, sizeof(p->err));
	return p;
}

static void done(struct parsed *p)
{
	options_free(&p->o);
	free(p);
}

static void expect_error(struct parsed *p, const char *part)
{
	assert_int_equal(p->ret, -EINVAL);
	if (!strstr(p->err, part))
		fail_msg("error '%s' does not say '%s'", p->err, part);
	done(p);
}

static void test_defaults(void **state)
{
	struct parsed *p = parse("gpu0=/run/gpu0.sock", NULL);

	assert_int_equal(p->ret, 0);
	assert_int_equal(p->o.nr_nodes, 1);
	assert_string_equal(p->o.nodes[0].name, "gpu0");
	assert_string_equal(p->o.nodes[0].server, "unix:/run/gpu0.sock");
	assert_int_equal(p->o.timeout_ms, 5000);
	assert_int_equal(p->o.uid, (uid_t)-1);
	assert_int_equal(p->o.gid, (gid_t)-1);
	assert_int_equal(p->o.mode, -1);
	assert_false(p->o.dma_by_message);
	assert_int_equal(p->o.level, VU_LOG_WARN);
	assert_false(p->o.help);
	assert_false(p->o.version);
	done(p);
}

static void test_server_forms(void **state)
{
	struct parsed *p =
	    parse("a=unix:/tmp/a.sock", "b=tcp:localhost:4000", "c=tcp:[::1]:80", "d=fd:3",
	          "e.1_x:y-z=relative.sock", "f=unix:fd:3", "g=fd:007", NULL);

	assert_int_equal(p->ret, 0);
	assert_int_equal(p->o.nr_nodes, 7);
	assert_string_equal(p->o.nodes[0].server, "unix:/tmp/a.sock");
	assert_string_equal(p->o.nodes[1].server, "tcp:localhost:4000");
	assert_string_equal(p->o.nodes[2].server, "tcp:[::1]:80");
	/* A socket a supervisor passes, as the library and vfio-user-info take it. */
	assert_string_equal(p->o.nodes[3].server, "fd:3");
	assert_string_equal(p->o.nodes[4].name, "e.1_x:y-z");
	assert_string_equal(p->o.nodes[4].server, "unix:relative.sock");
	/* A path that looks like fd:N is given as unix:PATH. */
	assert_string_equal(p->o.nodes[5].server, "unix:fd:3");
	assert_string_equal(p->o.nodes[6].server, "fd:7");
	for (int i = 0; i < 7; i++)
		assert_int_equal(p->o.nodes[i].major, 0);
	done(p);
}

static void test_devnum(void **state)
{
	struct parsed *p = parse("--devnum=b=120:7", "a=/tmp/a.sock", "b=/tmp/b.sock", "--devnum",
	                         "a=511:1048575", "c=/tmp/c.sock", NULL);

	assert_int_equal(p->ret, 0);
	assert_int_equal(p->o.nodes[0].major, 511);
	assert_int_equal(p->o.nodes[0].minor, 1048575);
	assert_int_equal(p->o.nodes[1].major, 120);
	assert_int_equal(p->o.nodes[1].minor, 7);
	/* Without --devnum the kernel picks. */
	assert_int_equal(p->o.nodes[2].major, 0);
	done(p);
	p = parse("--devnum=x:1=120:0", "x:1=/s", NULL);
	assert_int_equal(p->ret, 0);
	assert_int_equal(p->o.nodes[0].major, 120);
	done(p);
	/* The cdev and the iommufd node (by its name, whenever --iommufd comes). */
	p = parse("--devnum=devices/a=120:2", "--devnum=io=121:0", "a=/s", "--iommufd=io", NULL);
	assert_int_equal(p->ret, 0);
	assert_int_equal(p->o.nodes[0].major, 0);
	assert_int_equal(p->o.nodes[0].cdev_major, 120);
	assert_int_equal(p->o.nodes[0].cdev_minor, 2);
	assert_int_equal(p->o.iommu_major, 121);
	assert_int_equal(p->o.iommu_minor, 0);
	done(p);
	p = parse("--devnum=iommu=122:3", "a=/s", NULL);
	assert_int_equal(p->ret, 0);
	assert_int_equal(p->o.iommu_major, 122);
	assert_int_equal(p->o.iommu_minor, 3);
	done(p);

	expect_error(parse("--devnum=a", "a=/s", NULL), "--devnum: 'a' is not NODE=MAJOR:MINOR");
	expect_error(parse("--devnum=a=120", "a=/s", NULL), "is not NODE=MAJOR:MINOR");
	expect_error(parse("--devnum=a=0:1", "a=/s", NULL),
	             "'0:1' is not MAJOR:MINOR with MAJOR 1-511");
	expect_error(parse("--devnum=a=512:0", "a=/s", NULL), "'512:0' is not MAJOR:MINOR");
	expect_error(parse("--devnum=a=120:1048576", "a=/s", NULL), "'120:1048576' is not");
	expect_error(parse("--devnum=a=-1:0", "a=/s", NULL), "'-1:0' is not");
	expect_error(parse("--devnum=a=x:0", "a=/s", NULL), "'x:0' is not");
	expect_error(parse("--devnum=a=120:", "a=/s", NULL), "'120:' is not");
	expect_error(parse("--devnum=a/b=120:0", "a=/s", NULL), "contains '/'");
	expect_error(parse("--devnum=b=120:0", "a=/s", NULL), "--devnum: no device 'b' given");
	expect_error(parse("--devnum=devices/b=120:0", "a=/s", NULL),
	             "--devnum: no device 'b' given");
	expect_error(parse("--devnum=devices/=120:0", "a=/s", NULL), "empty device name");
	expect_error(parse("--devnum=devices/a/b=120:0", "a=/s", NULL), "contains '/'");
	expect_error(parse("--devnum=a=120:0", "--devnum=devices/a=120:0", "a=/s", NULL),
	             "120:0 is given to 'a' and 'devices/a'");
	expect_error(parse("--models=node", "--devnum=iommu=120:0", "a=/s", NULL),
	             "--devnum: no node iommu is served (see --models)");
	expect_error(parse("--models=node", "--devnum=devices/a=120:0", "a=/s", NULL),
	             "no node devices/a is served");
	expect_error(parse("--models=iommufd", "--devnum=a=120:0", "a=/s", NULL),
	             "no node a is served");
	expect_error(parse("--devnum=a=120:0", "--devnum=a=120:1", "a=/s", NULL),
	             "device 'a' is given two numbers");
	expect_error(parse("--devnum=a=120:0", "--devnum=b=120:0", "a=/s", "b=/t", NULL),
	             "120:0 is given to 'a' and 'b'");
}

static void test_foreground(void **state)
{
	struct parsed *p = parse("-f", "--foreground", "a=/s", NULL);

	assert_int_equal(p->ret, 0);
	assert_int_equal(p->o.nr_nodes, 1);
	done(p);
	p = parse("-fv", "a=/s", NULL);
	assert_int_equal(p->ret, 0);
	assert_int_equal(p->o.level, VU_LOG_INFO);
	done(p);
}

static void test_all_options(void **state)
{
	struct parsed *p =
	    parse("--timeout=250", "--owner=0", "--group=0", "--mode=0666", "-v", "n=/s", NULL);

	assert_int_equal(p->ret, 0);
	assert_int_equal(p->o.timeout_ms, 250);
	assert_int_equal(p->o.uid, 0);
	assert_int_equal(p->o.gid, 0);
	assert_int_equal(p->o.mode, 0666);
	assert_int_equal(p->o.level, VU_LOG_INFO);
	done(p);

	/* Names, separate values, options after the pairs. */
	p = parse("n=/s", "--owner", "root", "--group", "root", "--timeout", "7", "--mode=600",
	          NULL);
	assert_int_equal(p->ret, 0);
	assert_int_equal(p->o.uid, 0);
	assert_int_equal(p->o.gid, 0);
	assert_int_equal(p->o.timeout_ms, 7);
	assert_int_equal(p->o.mode, 0600);
	done(p);

	p = parse("--owner=1234", "--group=4321", "--mode=0", "--timeout=3600000",
	          "--dma-by-message", "n=/s", NULL);
	assert_int_equal(p->ret, 0);
	assert_true(p->o.dma_by_message);
	assert_int_equal(p->o.uid, 1234);
	assert_int_equal(p->o.gid, 4321);
	assert_int_equal(p->o.mode, 0);
	assert_int_equal(p->o.timeout_ms, 3600000);
	done(p);
}

static void test_verbosity(void **state)
{
	struct parsed *p = parse("-vv", "n=/s", NULL);

	assert_int_equal(p->o.level, VU_LOG_DEBUG);
	done(p);
	p = parse("-v", "-v", "-v", "--verbose", "n=/s", NULL);
	assert_int_equal(p->o.level, VU_LOG_DEBUG);
	done(p);
	p = parse("-q", "n=/s", NULL);
	assert_int_equal(p->o.level, VU_LOG_ERR);
	done(p);
	p = parse("--quiet", "-q", "n=/s", NULL);
	assert_int_equal(p->o.level, VU_LOG_ERR);
	done(p);
	p = parse("-v", "-q", "n=/s", NULL);
	assert_int_equal(p->o.level, VU_LOG_WARN);
	done(p);
}

static void test_help_version(void **state)
{
	struct parsed *p = parse("--help", NULL);
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	assert_int_equal(p->ret, 0);
	assert_true(p->o.help);
	done(p);
	p = parse("-h", "bad/name=x", NULL);
	assert_int_equal(p->ret, 0);
	assert_true(p->o.help);
	done(p);
	p = parse("--version", NULL);
	assert_int_equal(p->ret, 0);
	assert_true(p->o.version);
	done(p);
	p = parse("-V", NULL);
	assert_true(p->o.version);
	done(p);

	f = open_memstream(&text, &len);
	assert_non_null(f);
	options_usage(f, "vfio-user-cuse");
	fclose(f);
	assert_non_null(strstr(text, "Usage: vfio-user-cuse [options] NAME=SERVER"));
	assert_non_null(strstr(text, "--timeout=MS"));
	assert_non_null(strstr(text, "--mode=OCTAL"));
	assert_non_null(strstr(text, "tcp:HOST:PORT"));
	assert_non_null(strstr(text, "up to 256 devices"));
	free(text);
}

static void test_many_nodes(void **state)
{
	static char args[OPT_MAX_NODES + 1][32];
	static char *argv[OPT_MAX_NODES + 3];
	struct options o;
	char err[256];
	int i;

	argv[0] = "vfio-user-cuse";
	for (i = 0; i <= OPT_MAX_NODES; i++) {
		snprintf(args[i], sizeof(args[i]), "n%d=/tmp/s%d", i, i);
		argv[i + 1] = args[i];
	}
	assert_int_equal(options_parse(&o, OPT_MAX_NODES + 1, argv, err, sizeof(err)), 0);
	assert_int_equal(o.nr_nodes, OPT_MAX_NODES);
	assert_string_equal(o.nodes[OPT_MAX_NODES - 1].server, "unix:/tmp/s255");
	options_free(&o);

	assert_int_equal(options_parse(&o, OPT_MAX_NODES + 2, argv, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "too many devices: at most 256"));
	options_free(&o);
}

/* The iommufd node's name: "iommu" unless --iommufd says; no device may
 * take it, nor "devices", where the cdevs live. */
static void test_iommufd_name(void **state)
{
	struct parsed *p = parse("a=/tmp/s", NULL);

	assert_int_equal(p->ret, 0);
	assert_string_equal(p->o.iommufd, "iommu");
	done(p);
	p = parse("--iommufd=iommu-b", "a=/tmp/s", NULL);
	assert_int_equal(p->ret, 0);
	assert_string_equal(p->o.iommufd, "iommu-b");
	done(p);
	expect_error(parse("iommu=/tmp/s", NULL), "is the iommufd node's");
	expect_error(parse("--iommufd=x", "x=/tmp/s", NULL), "is the iommufd node's");
	expect_error(parse("devices=/tmp/s", NULL), "holds the device cdevs");
	expect_error(parse("--iommufd=devices", "a=/tmp/s", NULL), "holds the device cdevs");
	expect_error(parse("--iommufd=a/b", "a=/tmp/s", NULL), "contains '/'");
	expect_error(parse("groups=/tmp/s", NULL), "holds the groups");
	expect_error(parse("vfio=/tmp/s", NULL), "is the container node's");
	expect_error(parse("--container=iommu", "a=/tmp/s", NULL), "name the same node");
	expect_error(parse("--group-base=x", "a=/tmp/s", NULL), "--group-base");
	expect_error(parse("--sysfs=rel", "a=/tmp/s", NULL), "absolute path");
}

/* --models picks the device models; all by default. */
static void test_models(void **state)
{
	struct parsed *p = parse("a=/tmp/s", NULL);

	assert_int_equal(p->ret, 0);
	assert_int_equal(p->o.models, OPT_MODEL_NODE | OPT_MODEL_IOMMUFD | OPT_MODEL_LEGACY);
	done(p);
	p = parse("--models=node,legacy", "a=/tmp/s", NULL);
	assert_int_equal(p->ret, 0);
	assert_int_equal(p->o.models, OPT_MODEL_NODE | OPT_MODEL_LEGACY);
	done(p);
	expect_error(parse("--models=node,vga", "a=/tmp/s", NULL), "'vga' is not node");
	expect_error(parse("--models=", "a=/tmp/s", NULL), "at least one");
}

static void test_bad_pairs(void **state)
{
	char longname[OPT_NAME_MAX + 8], longpath[200];
	struct parsed *p;

	expect_error(parse(NULL), "no device given");
	expect_error(parse("-v", NULL), "no device given");
	expect_error(parse("gpu0", NULL), "'gpu0' is not NAME=SERVER");
	expect_error(parse("=/tmp/s", NULL), "empty device name");
	expect_error(parse("a/b=/tmp/s", NULL), "contains '/'");
	expect_error(parse("/dev/vfio-user/x=/tmp/s", NULL), "contains '/'");
	expect_error(parse(".hidden=/tmp/s", NULL), "must not start with '.'");
	expect_error(parse("..=/tmp/s", NULL), "must not start with '.'");
	expect_error(parse("a b=/tmp/s", NULL), "may only have letters");
	expect_error(parse("a*=/tmp/s", NULL), "may only have letters");
	expect_error(parse("x=/a", "y=/b", "x=/c", NULL), "'x' is given twice");
	expect_error(parse("a=", NULL), "a: empty server address");
	expect_error(parse("a=unix:", NULL), "empty socket path");
	expect_error(parse("a=tcp:host", NULL), "is not tcp:HOST:PORT");
	expect_error(parse("a=tcp::80", NULL), "is not tcp:HOST:PORT");
	expect_error(parse("a=tcp:host:", NULL), "bad port ''");
	expect_error(parse("a=tcp:host:0", NULL), "bad port '0'");
	expect_error(parse("a=tcp:host:65536", NULL), "bad port '65536'");
	expect_error(parse("a=tcp:host:http", NULL), "bad port 'http'");
	expect_error(parse("a=fd:", NULL), "a: server 'fd:' is not fd:N");
	expect_error(parse("a=fd:-1", NULL), "server 'fd:-1' is not fd:N");
	expect_error(parse("a=fd:3x", NULL), "server 'fd:3x' is not fd:N");
	expect_error(parse("a=fd:99999999999", NULL), "is not fd:N");
	expect_error(parse("a=fd:3", "b=fd:03", NULL), "fd:3 is given to 'a' and 'b'");

	memset(longname, 'n', OPT_NAME_MAX + 1);
	strcpy(longname + OPT_NAME_MAX + 1, "=/s");
	expect_error(parse(longname, NULL), "longer than 64 characters");
	strcpy(longname + OPT_NAME_MAX, "=/s");
	p = parse(longname, NULL);
	assert_int_equal(p->ret, 0);
	assert_int_equal(strlen(p->o.nodes[0].name), OPT_NAME_MAX);
	done(p);

	memset(longpath, 'p', sizeof(longpath));
	memcpy(longpath, "a=/", 3);
	longpath[3 + 108] = '\0';
	expect_error(parse(longpath, NULL), "longer than 107 bytes");
}

static void test_bad_options(void **state)
{
	expect_error(parse("--timeout=0", "n=/s", NULL), "--timeout: '0'");
	expect_error(parse("--timeout=-5", "n=/s", NULL), "--timeout: '-5'");
	expect_error(parse("--timeout=abc", "n=/s", NULL), "--timeout: 'abc'");
	expect_error(parse("--timeout=10ms", "n=/s", NULL), "--timeout: '10ms'");
	expect_error(parse("--timeout=3600001", "n=/s", NULL), "--timeout: '3600001'");
	expect_error(parse("--timeout=99999999999999999999", "n=/s", NULL), "--timeout");
	expect_error(parse("--timeout", NULL), "option '--timeout' needs a value");
	expect_error(parse("--mode=888", "n=/s", NULL), "--mode: '888'");
	expect_error(parse("--mode=1777", "n=/s", NULL), "--mode: '1777'");
	expect_error(parse("--mode=rw", "n=/s", NULL), "--mode: 'rw'");
	expect_error(parse("--mode=", "n=/s", NULL), "--mode: ''");
	expect_error(parse("--owner=no-such-user-vuc", "n=/s", NULL),
	             "no such user 'no-such-user-vuc'");
	expect_error(parse("--owner=-1", "n=/s", NULL), "no such user '-1'");
	expect_error(parse("--group=no-such-group-vuc", "n=/s", NULL),
	             "no such group 'no-such-group-vuc'");
	expect_error(parse("--bogus", "n=/s", NULL), "unknown option '--bogus'");
	expect_error(parse("-x", "n=/s", NULL), "unknown option '-x'");
	expect_error(parse("--help=yes", NULL), "option '--help' takes no value");
	expect_error(parse("--dma-by-message=1", "n=/s", NULL),
	             "option '--dma-by-message' takes no value");
	expect_error(parse("--bogus=1", "n=/s", NULL), "unknown option '--bogus=1'");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),     cmocka_unit_test(test_server_forms),
	    cmocka_unit_test(test_all_options),  cmocka_unit_test(test_verbosity),
	    cmocka_unit_test(test_help_version), cmocka_unit_test(test_many_nodes),
	    cmocka_unit_test(test_iommufd_name), cmocka_unit_test(test_models),
	    cmocka_unit_test(test_bad_pairs),    cmocka_unit_test(test_bad_options),
	    cmocka_unit_test(test_devnum),       cmocka_unit_test(test_foreground),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
