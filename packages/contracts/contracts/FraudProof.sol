// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {NodeRegistry} from "./NodeRegistry.sol";
import {RewardPools} from "./RewardPools.sol";

/// @notice Anyone submits the origin's attestation of a segment and a node's signature over a
/// different hash for the same (stream, rendition, seq): both are checked with ecrecover
/// (EIP-712, the StreamrP2P domain) and the node's stake is slashed, part to the reporter.
contract FraudProof {
    struct Segment {
        bytes32 streamId;
        string rendition;
        uint64 seq;
        bytes32 sha256;
        uint32 byteLength;
        uint32 durationMs;
        uint64 producedAt;
    }

    bytes32 public constant DOMAIN_TYPEHASH = keccak256("EIP712Domain(string name,string version)");
    bytes32 public constant SEGMENT_TYPEHASH = keccak256(
        "Segment(bytes32 streamId,string rendition,uint64 seq,bytes32 sha256,uint32 byteLength,uint32 durationMs,uint64 producedAt)"
    );
    bytes32 public constant DELIVERY_TYPEHASH =
        keccak256("Delivery(bytes32 streamId,string rendition,uint64 seq,bytes32 sha256)");
    /// The StreamrP2P domain has no chainId: attestations are signed once, off any chain.
    bytes32 public immutable DOMAIN_SEPARATOR =
        keccak256(abi.encode(DOMAIN_TYPEHASH, keccak256("StreamrP2P"), keccak256("1")));

    NodeRegistry public immutable registry;
    RewardPools public immutable pools;
    uint16 public immutable slashBps;
    uint16 public immutable reporterBps;
    mapping(bytes32 proofKey => bool) public used;

    event FraudProven(address indexed node, bytes32 indexed streamId, uint64 seq, address indexed reporter, uint256 slashed);

    error NotStreamSigner();
    error NotNodeSignature();
    error SameHash();
    error AlreadyProven();

    constructor(NodeRegistry registry_, RewardPools pools_, uint16 slashBps_, uint16 reporterBps_) {
        registry = registry_;
        pools = pools_;
        slashBps = slashBps_;
        reporterBps = reporterBps_;
    }

    function _digest(bytes32 structHash) internal view returns (bytes32) {
        return keccak256(abi.encodePacked("\x19\x01", DOMAIN_SEPARATOR, structHash));
    }

    function segmentDigest(Segment calldata s) public view returns (bytes32) {
        return _digest(
            keccak256(
                abi.encode(
                    SEGMENT_TYPEHASH,
                    s.streamId,
                    keccak256(bytes(s.rendition)),
                    s.seq,
                    s.sha256,
                    s.byteLength,
                    s.durationMs,
                    s.producedAt
                )
            )
        );
    }

    function deliveryDigest(bytes32 streamId, string calldata rendition, uint64 seq, bytes32 servedSha256)
        public
        view
        returns (bytes32)
    {
        return _digest(keccak256(abi.encode(DELIVERY_TYPEHASH, streamId, keccak256(bytes(rendition)), seq, servedSha256)));
    }

    function prove(
        Segment calldata attestation,
        bytes calldata originSignature,
        address node,
        bytes32 servedSha256,
        bytes calldata nodeSignature
    ) external returns (uint256 slashed) {
        if (servedSha256 == attestation.sha256) revert SameHash();
        address streamSigner = pools.signerOf(attestation.streamId);
        if (streamSigner == address(0) || ECDSA.recover(segmentDigest(attestation), originSignature) != streamSigner) {
            revert NotStreamSigner();
        }
        bytes32 d = deliveryDigest(attestation.streamId, attestation.rendition, attestation.seq, servedSha256);
        if (ECDSA.recover(d, nodeSignature) != node) revert NotNodeSignature();
        bytes32 key = keccak256(abi.encode(attestation.streamId, attestation.rendition, attestation.seq, node));
        if (used[key]) revert AlreadyProven();
        used[key] = true;
        slashed = registry.slash(node, slashBps, msg.sender, reporterBps);
        emit FraudProven(node, attestation.streamId, attestation.seq, msg.sender, slashed);
    }
}
