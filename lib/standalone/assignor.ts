import { cooperativeStickyAssigner, type GroupPartitionsAssigner } from '@platformatic/kafka';

/**
 * The group leader's assignor: @platformatic/kafka's cooperative-sticky assignor, with every
 * member's claim to the partitions it owns trusted whatever generation the member reports.
 * The client's assignor drops the claims of members reporting an older generation than another
 * member, and its members do report older ones after a revocation round, so a rebalance after a
 * member died moved the survivors' own partitions between them (seen with three workers on
 * Kafka 4.1). A claim made by two members is still honoured for neither (both revoke). A stale
 * claim wins a partition back for a member that is alive now: safe here, since every owner
 * positions from the ledger. Under an eager protocol (roundrobin chosen by the group) members
 * claim nothing, and this is a plain balanced assignment.
 */
export const stickyToEveryClaim: GroupPartitionsAssigner = (current, members, topics, metadata) =>
  cooperativeStickyAssigner(current, new Map([...members].map(([id, member]) => [id, { ...member, generationId: -1 }])), topics, metadata);
