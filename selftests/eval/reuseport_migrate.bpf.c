// SPDX-License-Identifier: GPL-2.0
/*
 * The idea of tools/testing/selftests/bpf/progs/test_migrate_reuseport.c,
 * standalone: attached as BPF_SK_REUSEPORT_SELECT_OR_MIGRATE to a reuseport
 * group, it leaves normal selection to the kernel's hash and sends every
 * request of a closing listener to the listener in slot 0 of the sockarray,
 * the new server's.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_REUSEPORT_SOCKARRAY);
	__uint(max_entries, 1);
	__type(key, int);
	__type(value, __u64);
} reuseport_map SEC(".maps");

SEC("sk_reuseport/migrate")
int migrate_reuseport(struct sk_reuseport_md *reuse_md)
{
	int key = 0;

	if (!reuse_md->migrating_sk)
		return SK_PASS;

	/* On failure, the kernel falls back to its hash. */
	bpf_sk_select_reuseport(reuse_md, &reuseport_map, &key, 0);
	return SK_PASS;
}

char _license[] SEC("license") = "GPL";
