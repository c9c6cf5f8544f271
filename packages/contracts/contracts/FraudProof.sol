// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {NodeRegistry} from "./NodeRegistry.sol";
import {RewardPools} from "./RewardPools.sol";

/// @notice Anyone submits an origin attestation of a segment and a node's delivery signature
/// `Delivery(attestation, servedSha256)` whose `attestation` is that same attestation's EIP-712
/// digest and whose served hash differs from the attested one: the node contradicted the very
/// statement it relied on, and its stake is slashed, part to the reporter. A node signature paired
/// with any other attestation (another one of the same seq, after an origin restart) does not verify.
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
    bytes32 public constant DELIVERY_TYPEHASH = keccak256("Delivery(bytes32 attestation,bytes32 servedSha256)");
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

    /// @param attestation The EIP-712 digest of the Segment the node relied on (segmentDigest).
    function deliveryDigest(bytes32 attestation, bytes32 servedSha256) public view returns (bytes32) {
        return _digest(keccak256(abi.encode(DELIVERY_TYPEHASH, attestation, servedSha256)));
    }

    function prove(
        Segment calldata attestation,
        bytes calldata originSignature,
        address node,
        bytes32 servedSha256,
        bytes calldata nodeSignature
    ) external returns (uint256 slashed) {
        // Fraud is "served hash != the sha256 of the attestation the node itself named".
        if (servedSha256 == attestation.sha256) revert SameHash();
        bytes32 segment = segmentDigest(attestation);
        // The node's guilt rests on its own signature alone. The origin's signature by the stream's
        // bound key is still required: it makes the slash about a segment the streamer really
        // published (the emitted streamId is authenticated, and a node key that signed over some
        // unpublished struct is not taken as having defrauded a viewer), and it keeps proofs closed
        // for a stream until the settler bound its key. It can never make an honest node guilty.
        address streamSigner = pools.signerOf(attestation.streamId);
        if (streamSigner == address(0) || ECDSA.recover(segment, originSignature) != streamSigner) {
            revert NotStreamSigner();
        }
        if (ECDSA.recover(deliveryDigest(segment, servedSha256), nodeSignature) != node) revert NotNodeSignature();
        // One slash per (node, attestation): a replay of the same proof, or another served hash
        // under the same attestation, is the same fraud.
        bytes32 key = keccak256(abi.encode(segment, node));
        if (used[key]) revert AlreadyProven();
        used[key] = true;
        slashed = registry.slash(node, slashBps, msg.sender, reporterBps);
        emit FraudProven(node, attestation.streamId, attestation.seq, msg.sender, slashed);
    }
}
