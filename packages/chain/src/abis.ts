import { epochDistributorAbi, fraudProofAbi, nodeRegistryAbi, rewardPoolsAbi } from "@streamrp2p/contracts";
import type { Abi } from "viem";

type AbiError = Extract<Abi[number], { type: "error" }>;

/**
 * ABIs as callers need them: a contract's own, plus the custom errors of the
 * contracts it calls, so a nested revert (e.g. Underfunded from a pool during
 * postRoot) decodes to its name instead of "reverted".
 */
const errorsOf = (abi: Abi): AbiError[] => abi.filter((x): x is AbiError => x.type === "error");

export const distributorAbi = [...epochDistributorAbi, ...errorsOf(rewardPoolsAbi)] as const satisfies Abi;
export const fraudAbi = [...fraudProofAbi, ...errorsOf(nodeRegistryAbi)] as const satisfies Abi;
