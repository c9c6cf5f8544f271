// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {NodeRegistry} from "./NodeRegistry.sol";
import {RewardPools} from "./RewardPools.sol";

/// @notice Anyone submits an origin attestation of a segment and a node's delivery signature
/// `Delivery(attestation, servedSha256)` whose `attestation` is that same attestation's EIP-712
/// digest and whose served hash differs from the attested one: the node contradicted the very
/// statement it relied on, and its stake is slashed, part to the reporter. A node signature paired
/// with any other attestation (another one of the same seq, after an origin restart) does not verify.
/// Signatures are bound to this deployment: the EIP-712 domain is ("StreamrP2P", "2", chain id, this
/// contract), so an attestation or delivery signature made for another chain or another FraudProof
/// (a testnet, a second network) does not verify here.
contract FraudProof is EIP712 {
    struct Segment {
        bytes32 streamId;
        string rendition;
        uint64 seq;
        /// The init segment it plays with (its own version for an init): signed, so no relay relabels it.
        uint64 initVersion;
        bytes32 sha256;
        uint32 byteLength;
        uint32 durationMs;
        uint64 producedAt;
    }

    bytes32 public constant SEGMENT_TYPEHASH = keccak256(
        "Segment(bytes32 streamId,string rendition,uint64 seq,uint64 initVersion,bytes32 sha256,uint32 byteLength,uint32 durationMs,uint64 producedAt)"
    );
    bytes32 public constant DELIVERY_TYPEHASH = keccak256("Delivery(bytes32 attestation,bytes32 servedSha256)");

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

    constructor(NodeRegistry registry_, RewardPools pools_, uint16 slashBps_, uint16 reporterBps_)
        EIP712("StreamrP2P", "2")
    {
        registry = registry_;
        pools = pools_;
        slashBps = slashBps_;
        reporterBps = reporterBps_;
    }

    /// @notice This deployment's EIP-712 domain separator (chain id and this contract included).
    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    function _digest(bytes32 structHash) internal view returns (bytes32) {
        return _hashTypedDataV4(structHash);
    }

    function segmentDigest(Segment calldata s) public view returns (bytes32) {
        return _digest(
            keccak256(
                abi.encode(
                    SEGMENT_TYPEHASH,
                    s.streamId,
                    keccak256(bytes(s.rendition)),
                    s.seq,
                    s.initVersion,
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
