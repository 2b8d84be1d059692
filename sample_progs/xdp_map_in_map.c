// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_map_in_map.c - per-tenant ACLs with a map of maps, and a queue of drop records.
 *
 * A host serves several tenants, each on its own VLAN. Every tenant has its own ACL, a
 * hash map from {protocol, destination port} to an action, and the control plane can
 * swap a tenant's whole ACL atomically by replacing one slot of the outer map.
 *
 *   vlan_tenant   (hash):          VLAN id -> tenant index; untagged frames are tenant 0
 *   tenant_acls   (array_of_maps): tenant index -> that tenant's ACL map; the inner
 *                                  maps below are placed in it statically (.values)
 *   acl_tenant0, acl_tenant1 (hash): {proto, port} -> action
 *   drop_log      (queue):         the last drops, {vlan, tenant, proto, port}, pushed
 *                                  with BPF_EXIST so the oldest record is overwritten
 *                                  when the queue is full; user space pops them
 *
 * Frames on a VLAN without a tenant are dropped; IPv4 TCP/UDP is looked up in the
 * tenant's ACL (no entry: pass); everything else passes.
 *
 * Helpers: bpf_map_lookup_elem (twice: outer map, then inner map), bpf_map_push_elem
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define MAX_TENANTS 8

struct vlan_hdr {
	__be16 tci;
	__be16 encapsulated_proto;
};

struct acl_key {
	__u8   proto;
	__u8   pad;
	__be16 port; /* destination port, network byte order */
};

struct drop_record {
	__u16 vlan;
	__u8  tenant;
	__u8  proto;
	__u16 port; /* host byte order */
	__u16 pad;
};

/* The inner map type: every map stored in tenant_acls must look like this one. */
struct acl_map {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct acl_key);
	__type(value, __u32); /* XDP_PASS or XDP_DROP */
};

struct acl_map acl_tenant0 SEC(".maps");
struct acl_map acl_tenant1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, MAX_TENANTS);
	__type(key, __u32);
	__array(values, struct acl_map);
} tenant_acls SEC(".maps") = {
	.values = { [0] = &acl_tenant0, [1] = &acl_tenant1 },
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u16);   /* VLAN id */
	__type(value, __u32); /* tenant index */
} vlan_tenant SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 16);
	__type(value, struct drop_record); /* queues and stacks have no key */
} drop_log SEC(".maps");

static __always_inline int log_drop(__u16 vlan, __u32 tenant, __u8 proto, __u16 port)
{
	struct drop_record rec = {
		.vlan = vlan, .tenant = tenant, .proto = proto, .port = port,
	};

	/* BPF_EXIST: when full, drop the oldest record instead of failing. */
	bpf_map_push_elem(&drop_log, &rec, BPF_EXIST);
	return XDP_DROP;
}

SEC("xdp")
int xdp_tenant_acl(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct ethhdr *eth = data;
	struct iphdr *iph = (void *)(eth + 1);
	struct acl_key key = {};
	__be16 proto;
	__u16 vlan = 0;
	__u32 tenant = 0;
	__u32 *action;
	void *acl;

	if ((void *)(eth + 1) > data_end)
		return XDP_DROP;
	proto = eth->h_proto;

	if (proto == bpf_htons(ETH_P_8021Q)) {
		struct vlan_hdr *vh = (void *)(eth + 1);
		__u32 *t;

		if ((void *)(vh + 1) > data_end)
			return XDP_DROP;
		vlan = bpf_ntohs(vh->tci) & 0x0fff;
		proto = vh->encapsulated_proto;
		iph = (void *)(vh + 1);

		t = bpf_map_lookup_elem(&vlan_tenant, &vlan);
		if (!t)
			return log_drop(vlan, 0xff, 0, 0); /* a VLAN nobody owns */
		tenant = *t;
	}

	if (proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	if ((void *)(iph + 1) > data_end || iph->ihl < 5)
		return XDP_DROP;
	if (iph->protocol != IPPROTO_TCP && iph->protocol != IPPROTO_UDP)
		return XDP_PASS;
	{
		struct udphdr *uh = (void *)iph + iph->ihl * 4; /* ports: same place in TCP */

		if ((void *)(uh + 1) > data_end)
			return XDP_DROP;
		key.proto = iph->protocol;
		key.port = uh->dest;
	}

	/* Outer lookup gives the inner map itself; the inner lookup, the action. */
	acl = bpf_map_lookup_elem(&tenant_acls, &tenant);
	if (!acl)
		return XDP_PASS; /* tenant without an ACL (empty slot) */
	action = bpf_map_lookup_elem(acl, &key);
	if (!action || *action == XDP_PASS)
		return XDP_PASS;
	return log_drop(vlan, tenant, key.proto, bpf_ntohs(key.port));
}

char LICENSE[] SEC("license") = "GPL";
