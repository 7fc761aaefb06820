/* SPDX-License-Identifier: MIT */
/* Version negotiation: the JSON we send, the JSON we take, the agreement. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/caps.h"
#include "proto/vfio-user.h"

static int parse(const char *json, size_t len, struct vu_caps *caps)
{
	char why[256] = "";
	int ret;

	vu_caps_default(caps);
	ret = vu_caps_parse(json, len, caps, why, sizeof(why));
	if (ret)
		print_message("  refused: %s\n", why);
	return ret;
}

static int parse_str(const char *json, struct vu_caps *caps)
{
	return parse(json, strlen(json), caps);
}

static void assert_caps_equal(const struct vu_caps *a, const struct vu_caps *b)
{
	assert_int_equal(a->major, b->major);
	assert_int_equal(a->minor, b->minor);
	assert_int_equal(a->max_msg_fds, b->max_msg_fds);
	assert_int_equal(a->max_data_xfer_size, b->max_data_xfer_size);
	assert_true(a->pgsizes == b->pgsizes);
	assert_int_equal(a->max_dma_maps, b->max_dma_maps);
	assert_int_equal(a->write_multiple, b->write_multiple);
	assert_int_equal(a->twin_socket, b->twin_socket);
	assert_int_equal(a->twin_fd_index, b->twin_fd_index);
	assert_int_equal(a->migration, b->migration);
	assert_true(a->mig_pgsize == b->mig_pgsize);
	assert_true(a->mig_max_bitmap_size == b->mig_max_bitmap_size);
}

static void assert_defaults(const struct vu_caps *c)
{
	assert_int_equal(c->major, VFIO_USER_MAJOR);
	assert_int_equal(c->minor, VFIO_USER_MINOR);
	assert_int_equal(c->max_msg_fds, 1);
	assert_int_equal(c->max_data_xfer_size, 1u << 20);
	assert_int_equal(c->pgsizes, 4096);
	assert_int_equal(c->max_dma_maps, 65535);
	assert_false(c->write_multiple);
	assert_false(c->twin_socket);
	assert_false(c->migration);
	assert_int_equal(c->mig_max_bitmap_size, 256ull << 20);
}

static void defaults(void **state)
{
	struct vu_caps c;

	vu_caps_default(&c);
	assert_defaults(&c);
}

static void missing_keys_get_defaults(void **state)
{
	struct vu_caps c;

	assert_int_equal(parse_str("{}", &c), 0);
	assert_defaults(&c);
	assert_int_equal(parse_str("{\"capabilities\":{}}", &c), 0);
	assert_defaults(&c);
	assert_int_equal(parse_str("{\"capabilities\":{\"max_msg_fds\":8}}", &c), 0);
	assert_int_equal(c.max_msg_fds, 8);
	assert_int_equal(c.max_data_xfer_size, 1u << 20);
	assert_int_equal(c.pgsizes, 4096);
}

static void empty_data_gets_defaults(void **state)
{
	struct vu_caps c;

	assert_int_equal(parse("", 0, &c), 0);
	assert_defaults(&c);
	assert_int_equal(parse(NULL, 0, &c), 0);
	assert_defaults(&c);
	assert_int_equal(parse("\0", 1, &c), 0);
	assert_defaults(&c);
	assert_int_equal(parse(" \n\t\0", 4, &c), 0);
	assert_defaults(&c);
}

static void every_key(void **state)
{
	const char *json = "{\"capabilities\":{\"max_msg_fds\":16,\"max_data_xfer_size\":65536,"
	                   "\"pgsizes\":2101248,\"max_dma_maps\":128,\"write_multiple\":true,"
	                   "\"migration\":{\"pgsize\":8192,\"max_bitmap_size\":4096},"
	                   "\"twin_socket\":{\"supported\":true,\"fd_index\":0}}}";
	struct vu_caps c;

	assert_int_equal(parse_str(json, &c), 0);
	assert_int_equal(c.max_msg_fds, 16);
	assert_int_equal(c.max_data_xfer_size, 65536);
	assert_int_equal(c.pgsizes, 2101248);
	assert_int_equal(c.max_dma_maps, 128);
	assert_true(c.write_multiple);
	assert_true(c.migration);
	assert_int_equal(c.mig_pgsize, 8192);
	assert_int_equal(c.mig_max_bitmap_size, 4096);
	assert_true(c.twin_socket);
	assert_int_equal(c.twin_fd_index, 0);
}

/* As libvfio-user sends it: a trailing NUL, and as others may: whitespace. */
static void trailing_nul_and_whitespace(void **state)
{
	const char with_nul[] = "{\"capabilities\":{\"max_msg_fds\":8}}";
	const char spaced[] = "\n  { \"capabilities\" :\n\t{ \"max_msg_fds\" : 4 } }  \r\n";
	struct vu_caps c;

	assert_int_equal(parse(with_nul, sizeof(with_nul), &c), 0);
	assert_int_equal(c.max_msg_fds, 8);
	assert_int_equal(parse(spaced, sizeof(spaced) - 1, &c), 0);
	assert_int_equal(c.max_msg_fds, 4);
	assert_int_equal(parse(spaced, sizeof(spaced), &c), 0);
	assert_int_equal(c.max_msg_fds, 4);
}

static void unknown_keys_ignored(void **state)
{
	const char *json = "{\"vendor\":[1,2,{\"x\":null}],\"capabilities\":{\"future\":{\"a\":1},"
	                   "\"max_msg_fds\":3,\"twin_socket\":{\"supported\":false,\"x\":\"y\"},"
	                   "\"migration\":{\"pgsize\":4096,\"new\":1.5}}}";
	struct vu_caps c;

	assert_int_equal(parse_str(json, &c), 0);
	assert_int_equal(c.max_msg_fds, 3);
	assert_false(c.twin_socket);
	assert_true(c.migration);
}

static void wrong_types_refused(void **state)
{
	static const char *const bad[] = {
	    "{\"capabilities\":[]}",
	    "{\"capabilities\":1}",
	    "{\"capabilities\":{\"max_msg_fds\":\"8\"}}",
	    "{\"capabilities\":{\"max_msg_fds\":8.0}}",
	    "{\"capabilities\":{\"max_msg_fds\":1e3}}",
	    "{\"capabilities\":{\"max_msg_fds\":true}}",
	    "{\"capabilities\":{\"max_msg_fds\":null}}",
	    "{\"capabilities\":{\"max_data_xfer_size\":{}}}",
	    "{\"capabilities\":{\"pgsizes\":\"4096\"}}",
	    "{\"capabilities\":{\"max_dma_maps\":[1]}}",
	    "{\"capabilities\":{\"write_multiple\":1}}",
	    "{\"capabilities\":{\"write_multiple\":\"true\"}}",
	    "{\"capabilities\":{\"migration\":true}}",
	    "{\"capabilities\":{\"migration\":{\"pgsize\":\"4096\"}}}",
	    "{\"capabilities\":{\"migration\":{\"max_bitmap_size\":1.0}}}",
	    "{\"capabilities\":{\"twin_socket\":true}}",
	    "{\"capabilities\":{\"twin_socket\":{\"supported\":1}}}",
	    "{\"capabilities\":{\"twin_socket\":{\"supported\":true,\"fd_index\":\"0\"}}}",
	};
	struct vu_caps c;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("%s\n", bad[i]);
		assert_int_equal(parse_str(bad[i], &c), -EINVAL);
	}
}

static void out_of_range_refused(void **state)
{
	static const char *const bad[] = {
	    "{\"capabilities\":{\"max_msg_fds\":-1}}",
	    "{\"capabilities\":{\"max_msg_fds\":1025}}",
	    "{\"capabilities\":{\"max_msg_fds\":4294967297}}",
	    "{\"capabilities\":{\"max_data_xfer_size\":0}}",
	    "{\"capabilities\":{\"max_data_xfer_size\":67108865}}",
	    "{\"capabilities\":{\"max_data_xfer_size\":18446744073709551615}}",
	    "{\"capabilities\":{\"max_data_xfer_size\":99999999999999999999999999}}",
	    "{\"capabilities\":{\"pgsizes\":0}}",
	    "{\"capabilities\":{\"pgsizes\":-4096}}",
	    "{\"capabilities\":{\"max_dma_maps\":4294967296}}",
	    "{\"capabilities\":{\"migration\":{\"pgsize\":0}}}",
	    "{\"capabilities\":{\"migration\":{\"pgsize\":12288}}}",
	    "{\"capabilities\":{\"migration\":{\"max_bitmap_size\":0}}}",
	    "{\"capabilities\":{\"twin_socket\":{\"supported\":true,\"fd_index\":-1}}}",
	    "{\"capabilities\":{\"twin_socket\":{\"supported\":true,\"fd_index\":1024}}}",
	};
	struct vu_caps c;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("%s\n", bad[i]);
		assert_int_equal(parse_str(bad[i], &c), -EINVAL);
	}
}

static void large_values_within_bounds(void **state)
{
	struct vu_caps c;

	assert_int_equal(parse_str("{\"capabilities\":{\"max_msg_fds\":1024,"
	                           "\"max_data_xfer_size\":67108864,"
	                           "\"pgsizes\":18446744073709547520,"
	                           "\"max_dma_maps\":4294967295}}",
	                           &c),
	                 0);
	assert_int_equal(c.max_msg_fds, VU_MAX_MSG_FDS_LIMIT);
	assert_int_equal(c.max_data_xfer_size, VU_MAX_XFER_SIZE_LIMIT);
	assert_true(c.pgsizes == 0xfffffffffffff000ull);
	assert_int_equal(c.max_dma_maps, UINT32_MAX);
	/* A server mapping only 2 MiB pages may say so. */
	assert_int_equal(parse_str("{\"capabilities\":{\"pgsizes\":2097152}}", &c), 0);
	assert_int_equal(c.pgsizes, 2097152);
	assert_int_equal(parse_str("{\"capabilities\":{\"max_msg_fds\":0}}", &c), 0);
	assert_int_equal(c.max_msg_fds, 0);
}

static void not_an_object_refused(void **state)
{
	static const char *const bad[] = {
	    "[]",    "1",    "\"capabilities\"", "null",         "true", "{", "{\"capabilities\":",
	    "{} {}", "{} x", "{\"a\":1,}",       "capabilities", "\x01",
	};
	struct vu_caps c;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("%s\n", bad[i]);
		assert_int_equal(parse_str(bad[i], &c), -EINVAL);
	}
}

static void nul_inside_refused(void **state)
{
	const char json[] = "{\"capabilities\":{}}\0{\"x\":1}";
	const char mid[] = "{\"capa\0bilities\":{}}";
	struct vu_caps c;

	assert_int_equal(parse(json, sizeof(json), &c), -EINVAL);
	assert_int_equal(parse(mid, sizeof(mid), &c), -EINVAL);
}

static void failed_parse_leaves_caps(void **state)
{
	struct vu_caps c, before;
	const char *json = "{\"capabilities\":{\"max_msg_fds\":8,\"pgsizes\":0}}";

	vu_caps_default(&c);
	c.max_msg_fds = 77;
	before = c;
	assert_int_equal(vu_caps_parse(json, strlen(json), &c, NULL, 0), -EINVAL);
	assert_caps_equal(&c, &before);
}

static void encode_roundtrip(void **state)
{
	struct vu_caps in, out;
	char *json;

	vu_caps_default(&in);
	in.max_msg_fds = 253;
	in.max_data_xfer_size = 4u << 20;
	in.pgsizes = 0xfffffffffffff000ull;
	in.max_dma_maps = 1000;
	in.write_multiple = true;
	in.twin_socket = true;
	in.twin_fd_index = 0;
	in.migration = true;
	in.mig_pgsize = 65536;
	in.mig_max_bitmap_size = 1u << 20;
	assert_int_equal(vu_caps_encode(&in, &json), 0);
	print_message("%s\n", json);
	assert_int_equal(parse(json, strlen(json) + 1, &out), 0);
	free(json);
	assert_caps_equal(&in, &out);

	vu_caps_default(&in);
	assert_int_equal(vu_caps_encode(&in, &json), 0);
	assert_null(strstr(json, "twin_socket"));
	assert_null(strstr(json, "migration"));
	assert_int_equal(parse_str(json, &out), 0);
	free(json);
	assert_caps_equal(&in, &out);
}

static void from_version_payload(void **state)
{
	const char *json = "{\"capabilities\":{\"max_msg_fds\":5}}";
	uint8_t buf[64];
	struct vfio_user_version v = {.major = 0, .minor = 1};
	struct vu_caps c;
	char why[128];

	memcpy(buf, &v, sizeof(v));
	memcpy(buf + sizeof(v), json, strlen(json) + 1);
	assert_int_equal(
	    vu_caps_from_version(buf, sizeof(v) + strlen(json) + 1, &c, why, sizeof(why)), 0);
	assert_int_equal(c.major, 0);
	assert_int_equal(c.minor, 1);
	assert_int_equal(c.max_msg_fds, 5);
	assert_int_equal(vu_caps_from_version(buf, sizeof(v), &c, why, sizeof(why)), 0);
	assert_int_equal(c.max_msg_fds, 1);
	assert_int_equal(vu_caps_from_version(buf, 3, &c, why, sizeof(why)), -EINVAL);
}

static int agree(const struct vu_caps *ours, const struct vu_caps *theirs, struct vu_caps *out)
{
	char why[256] = "";
	int ret = vu_caps_agree(ours, theirs, out, why, sizeof(why));

	if (ret)
		print_message("  refused: %s\n", why);
	return ret;
}

static void agree_rules(void **state)
{
	struct vu_caps ours, theirs, out;

	vu_caps_default(&ours);
	vu_caps_default(&theirs);
	assert_int_equal(agree(&ours, &theirs, &out), 0);
	assert_caps_equal(&out, &theirs);

	theirs.minor = ours.minor - 1;
	assert_int_equal(agree(&ours, &theirs, &out), 0);
	assert_int_equal(out.minor, ours.minor - 1);

	theirs.minor = ours.minor + 1;
	assert_int_equal(agree(&ours, &theirs, &out), -EPROTO);

	vu_caps_default(&theirs);
	theirs.major = ours.major + 1;
	assert_int_equal(agree(&ours, &theirs, &out), -EPROTO);
}

static void agree_twin_socket(void **state)
{
	struct vu_caps ours, theirs, out;

	vu_caps_default(&ours);
	vu_caps_default(&theirs);
	theirs.twin_socket = true;
	theirs.twin_fd_index = 0;
	assert_int_equal(agree(&ours, &theirs, &out), -EPROTO);

	ours.twin_socket = true;
	assert_int_equal(agree(&ours, &theirs, &out), 0);
	assert_true(out.twin_socket);

	theirs.twin_socket = false;
	assert_int_equal(agree(&ours, &theirs, &out), 0);
	assert_false(out.twin_socket);
}

static void agree_limits(void **state)
{
	struct vu_caps ours, theirs, out;

	vu_caps_default(&ours);
	vu_caps_default(&theirs);
	ours.max_data_xfer_size = 1u << 16;
	ours.max_msg_fds = 64;
	ours.write_multiple = true;
	ours.migration = true;
	ours.mig_pgsize = 8192;
	theirs.max_data_xfer_size = 1u << 20;
	theirs.max_msg_fds = 8;
	theirs.pgsizes = 0x201000;
	theirs.max_dma_maps = 12;
	theirs.migration = true;
	theirs.mig_pgsize = 4096;
	assert_int_equal(agree(&ours, &theirs, &out), 0);
	assert_int_equal(out.max_data_xfer_size, 1u << 16);
	assert_int_equal(out.max_msg_fds, 8);
	assert_int_equal(out.pgsizes, 0x201000);
	assert_int_equal(out.max_dma_maps, 12);
	assert_false(out.write_multiple);
	assert_true(out.migration);
	assert_int_equal(out.mig_pgsize, 4096);

	/* A server may announce what we did not ask for; it stays off. */
	ours.write_multiple = false;
	ours.migration = false;
	theirs.write_multiple = true;
	assert_int_equal(agree(&ours, &theirs, &out), 0);
	assert_false(out.write_multiple);
	assert_false(out.migration);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(defaults),
	    cmocka_unit_test(missing_keys_get_defaults),
	    cmocka_unit_test(empty_data_gets_defaults),
	    cmocka_unit_test(every_key),
	    cmocka_unit_test(trailing_nul_and_whitespace),
	    cmocka_unit_test(unknown_keys_ignored),
	    cmocka_unit_test(wrong_types_refused),
	    cmocka_unit_test(out_of_range_refused),
	    cmocka_unit_test(large_values_within_bounds),
	    cmocka_unit_test(not_an_object_refused),
	    cmocka_unit_test(nul_inside_refused),
	    cmocka_unit_test(failed_parse_leaves_caps),
	    cmocka_unit_test(encode_roundtrip),
	    cmocka_unit_test(from_version_payload),
	    cmocka_unit_test(agree_rules),
	    cmocka_unit_test(agree_twin_socket),
	    cmocka_unit_test(agree_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
