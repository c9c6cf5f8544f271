// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {RewardPools} from "./RewardPools.sol";

/// @notice One Merkle root per epoch of *cumulative* amounts per payee. A root is claimable
/// after a dispute window in which the owner (a multisig in production) can void it. A payee
/// claims everything owed so far with one proof; nothing can be claimed twice.
contract EpochDistributor is Ownable, ReentrancyGuard {
    using SafeERC20 for IERC20;

    struct EpochRoot {
        bytes32 root;
        uint64 postedAt;
        bool voided;
        uint256 total;
    }

    IERC20 public immutable token;
    RewardPools public immutable pools;
    uint64 public immutable disputeWindow;
    address public settler;

    mapping(uint64 epoch => EpochRoot) public roots;
    mapping(uint64 epoch => bytes32[]) internal _streams;
    mapping(uint64 epoch => uint256[]) internal _amounts;
    mapping(address account => uint256) public claimed;
    uint64 public latestEpoch;

    event RootPosted(uint64 indexed epoch, bytes32 root, uint256 total);
    event RootVoided(uint64 indexed epoch);
    event Claimed(address indexed account, uint64 indexed epoch, uint256 amount, uint256 cumulative);
    event SettlerSet(address settler);

    error NotSettler();
    error AlreadyPosted();
    error EpochNotAfterLatest();
    error LengthMismatch();
    error UnknownEpoch();
    error DisputeWindowOver();
    error Voided();
    error NotClaimableYet();
    error BadProof();
    error NothingToClaim();

    constructor(IERC20 token_, RewardPools pools_, uint64 disputeWindowSeconds, address settler_) Ownable(msg.sender) {
        token = token_;
        pools = pools_;
        disputeWindow = disputeWindowSeconds;
        settler = settler_;
    }

    function setSettler(address settler_) external onlyOwner {
        settler = settler_;
        emit SettlerSet(settler_);
    }

    /// @notice Posts epoch `epoch`'s root and draws the epoch's rewards from each stream's pool.
    /// O(1) in the number of payees: the tree stays off-chain.
    function postRoot(uint64 epoch, bytes32 root, bytes32[] calldata streamIds, uint256[] calldata amounts)
        external
        nonReentrant
    {
        if (msg.sender != settler) revert NotSettler();
        if (roots[epoch].postedAt != 0) revert AlreadyPosted();
        if (epoch <= latestEpoch && latestEpoch != 0) revert EpochNotAfterLatest();
        if (streamIds.length != amounts.length) revert LengthMismatch();
        uint256 total;
        for (uint256 i = 0; i < streamIds.length; i++) {
            // Reverts (Underfunded / OverBudget) rather than drawing less than the tree pays out.
            pools.draw(streamIds[i], amounts[i]);
            total += amounts[i];
        }
        roots[epoch] = EpochRoot({root: root, postedAt: uint64(block.timestamp), voided: false, total: total});
        _streams[epoch] = streamIds;
        _amounts[epoch] = amounts;
        latestEpoch = epoch;
        emit RootPosted(epoch, root, total);
    }

    /// @notice Voids a bad root inside its dispute window and gives its draws back to the pools.
    function voidRoot(uint64 epoch) external onlyOwner nonReentrant {
        EpochRoot storage r = roots[epoch];
        if (r.postedAt == 0) revert UnknownEpoch();
        if (r.voided) revert Voided();
        if (block.timestamp >= r.postedAt + disputeWindow) revert DisputeWindowOver();
        r.voided = true;
        bytes32[] storage streams = _streams[epoch];
        uint256[] storage amounts = _amounts[epoch];
        token.forceApprove(address(pools), r.total);
        for (uint256 i = 0; i < streams.length; i++) {
            if (amounts[i] > 0) pools.refund(streams[i], amounts[i]);
        }
        emit RootVoided(epoch);
    }

    function isClaimable(uint64 epoch) public view returns (bool) {
        EpochRoot storage r = roots[epoch];
        return r.postedAt != 0 && !r.voided && block.timestamp >= r.postedAt + disputeWindow;
    }

    /// @notice Pays `account` everything up to `cumulative` (its total across all epochs so far) at once.
    function claim(uint64 epoch, address account, uint256 cumulative, bytes32[] calldata proof)
        external
        nonReentrant
        returns (uint256 amount)
    {
        EpochRoot storage r = roots[epoch];
        if (r.postedAt == 0) revert UnknownEpoch();
        if (r.voided) revert Voided();
        if (block.timestamp < r.postedAt + disputeWindow) revert NotClaimableYet();
        // The OpenZeppelin StandardMerkleTree leaf: double-hashed, so no inner node passes as a leaf.
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(account, cumulative))));
        if (!MerkleProof.verifyCalldata(proof, r.root, leaf)) revert BadProof();
        uint256 already = claimed[account];
        if (cumulative <= already) revert NothingToClaim();
        amount = cumulative - already;
        claimed[account] = cumulative;
        token.safeTransfer(account, amount);
        emit Claimed(account, epoch, amount, cumulative);
    }
}
