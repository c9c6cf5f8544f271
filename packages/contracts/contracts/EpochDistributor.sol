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
///
/// Solvency: each root names the root it builds on (`base`), which must be the newest valid
/// root, so a tree never counts amounts of a voided root. Voiding a root voids every later root
/// too (they were built on it; all are still inside their dispute windows, so none has paid
/// out) and refunds all their draws; the next root then builds on the last root left standing.
///
/// Pace: epoch n is [n, n+1) x epochMillis of unix time. A root is posted only for an epoch
/// that has ended and is not before `firstEpoch`, epochs only move forward, and a root names
/// each pool at most once (its pool ids strictly increasing), so however the settler key is
/// used, a pool gives at most one budget per epoch elapsed since deployment.
contract EpochDistributor is Ownable, ReentrancyGuard {
    using SafeERC20 for IERC20;

    struct EpochRoot {
        bytes32 root;
        uint64 postedAt;
        bool voided;
        /// The root this one's cumulative amounts build on (0: none).
        uint64 base;
        uint256 total;
    }

    IERC20 public immutable token;
    RewardPools public immutable pools;
    uint64 public immutable disputeWindow;
    /// Epoch length in milliseconds, as the coordinator counts epochs (n = floor(unix ms / epochMillis)).
    uint64 public immutable epochMillis;
    /// The first epoch a root may be posted for (the deployment's epoch).
    uint64 public immutable firstEpoch;
    address public settler;

    mapping(uint64 epoch => EpochRoot) public roots;
    mapping(uint64 epoch => bytes32[]) internal _pools;
    mapping(uint64 epoch => uint256[]) internal _amounts;
    mapping(address account => uint256) public claimed;
    /// The newest epoch ever posted: a new root must be later.
    uint64 public latestEpoch;
    /// The newest root not voided (0: none): the base the next root must name.
    uint64 public lastValidEpoch;
    /// How many roots were posted (voided ones included): a budget cut waits for the next one.
    uint64 public rootsPosted;

    event RootPosted(uint64 indexed epoch, bytes32 root, uint256 total, uint64 base);
    event RootVoided(uint64 indexed epoch);
    event Claimed(address indexed account, uint64 indexed epoch, uint256 amount, uint256 cumulative);
    event SettlerSet(address settler);

    error NotSettler();
    error AlreadyPosted();
    error EpochNotAfterLatest();
    error EpochNotOver();
    error EpochBeforeFirst();
    error ZeroEpochLength();
    error StaleBase();
    error LengthMismatch();
    /// postRoot's poolIds are not strictly increasing (a pool repeated, or out of order).
    error PoolsNotSorted();
    error UnknownEpoch();
    error DisputeWindowOver();
    error Voided();
    error NotClaimableYet();
    error BadProof();
    error NothingToClaim();

    constructor(
        IERC20 token_,
        RewardPools pools_,
        uint64 disputeWindowSeconds,
        address settler_,
        uint64 epochMillis_,
        uint64 firstEpoch_
    ) Ownable(msg.sender) {
        if (epochMillis_ == 0) revert ZeroEpochLength();
        token = token_;
        pools = pools_;
        disputeWindow = disputeWindowSeconds;
        settler = settler_;
        epochMillis = epochMillis_;
        firstEpoch = firstEpoch_;
    }

    function setSettler(address settler_) external onlyOwner {
        settler = settler_;
        emit SettlerSet(settler_);
    }

    /// @notice Posts epoch `epoch`'s root, built on root `base` (which must be lastValidEpoch),
    /// and draws the epoch's rewards from each pool. O(1) in the number of payees: the tree
    /// stays off-chain. `poolIds` must be strictly increasing (as uint256), so each pool is drawn
    /// at most once, and at most its budget, per root.
    function postRoot(
        uint64 epoch,
        uint64 base,
        bytes32 root,
        bytes32[] calldata poolIds,
        uint256[] calldata amounts
    ) external nonReentrant {
        if (msg.sender != settler) revert NotSettler();
        if (roots[epoch].postedAt != 0) revert AlreadyPosted();
        if (epoch == 0 || epoch <= latestEpoch) revert EpochNotAfterLatest();
        if (epoch < firstEpoch) revert EpochBeforeFirst();
        if ((uint256(epoch) + 1) * epochMillis > block.timestamp * 1000) revert EpochNotOver();
        if (base != lastValidEpoch) revert StaleBase();
        if (poolIds.length != amounts.length) revert LengthMismatch();
        uint256 total;
        bytes32 previous;
        for (uint256 i = 0; i < poolIds.length; ++i) {
            bytes32 poolId = poolIds[i];
            // One draw per pool per root: `draw` checks each amount against the pool's budget on
            // its own, so a pool named k times would give k budgets. Strictly increasing ids
            // cannot repeat one.
            if (i != 0 && poolId <= previous) revert PoolsNotSorted();
            previous = poolId;
            // Reverts (Underfunded / OverBudget) rather than drawing less than the tree pays out.
            pools.draw(poolId, amounts[i]);
            total += amounts[i];
        }
        roots[epoch] = EpochRoot({root: root, postedAt: uint64(block.timestamp), voided: false, base: base, total: total});
        _pools[epoch] = poolIds;
        _amounts[epoch] = amounts;
        latestEpoch = epoch;
        lastValidEpoch = epoch;
        ++rootsPosted;
        emit RootPosted(epoch, root, total, base);
    }

    /// @notice Voids a bad root inside its dispute window, with every root built on it since,
    /// and gives all their draws back to the pools.
    function voidRoot(uint64 epoch) external onlyOwner nonReentrant {
        EpochRoot storage target = roots[epoch];
        if (target.postedAt == 0) revert UnknownEpoch();
        if (target.voided) revert Voided();
        if (block.timestamp >= target.postedAt + disputeWindow) revert DisputeWindowOver();
        // Valid roots form one chain through `base` from lastValidEpoch; `epoch` is on it.
        uint64 e = lastValidEpoch;
        for (;;) {
            EpochRoot storage r = roots[e];
            if (r.postedAt == 0) revert UnknownEpoch(); // unreachable while the chain invariant holds
            r.voided = true;
            bytes32[] storage ids = _pools[e];
            uint256[] storage amounts = _amounts[e];
            token.forceApprove(address(pools), r.total);
            for (uint256 i = 0; i < ids.length; ++i) {
                if (amounts[i] > 0) pools.refund(ids[i], amounts[i]);
            }
            emit RootVoided(e);
            if (e == epoch) break;
            e = r.base;
        }
        lastValidEpoch = target.base;
    }

    /// @notice What epoch `epoch`'s root drew, per pool.
    function drawsOf(uint64 epoch) external view returns (bytes32[] memory poolIds, uint256[] memory amounts) {
        return (_pools[epoch], _amounts[epoch]);
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
