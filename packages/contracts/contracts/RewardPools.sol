// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/// @notice What the pools need to know of the distributor: how many roots it has posted.
interface IRootCounter {
    function rootsPosted() external view returns (uint64);
}

/// @notice Streamer-created, anyone-funded reward pools with a per-epoch budget. A pool belongs
/// to one (stream, signing key) pair: its id is poolIdOf(streamId, signer), and it is created
/// only with the signing key's consent, so nobody can squat another streamer's pool. Only the
/// epoch distributor draws from pools, never more than a pool holds nor its budget.
contract RewardPools is Ownable, ReentrancyGuard, EIP712 {
    using SafeERC20 for IERC20;

    struct Pool {
        address streamer;
        /// The stream's segment-signing key (part of the pool id).
        address signer;
        /// rootsPosted() from which nextBudget is in force (0: no cut pending); packed with signer.
        uint64 nextBudgetFrom;
        bytes32 streamId;
        uint256 balance;
        /// The budget in force.
        uint256 epochBudget;
        /// A lowered budget waits for the next root: the epoch being settled keeps the budget
        /// in force when its amounts were computed, so a cut cannot make a root revert.
        uint256 nextBudget;
    }

    /// What the signing key signs: "`streamer` may create the pool of `streamId` for my key".
    bytes32 public constant POOL_CONSENT_TYPEHASH =
        keccak256("PoolConsent(bytes32 streamId,address streamer,uint256 deadline)");

    IERC20 public immutable token;
    address public distributor;
    mapping(bytes32 poolId => Pool) public pools;
    /// The signer the distributor first drew for a stream with: the settler draws only from the
    /// pool of the signer the coordinator registered, so this is the stream's key for fraud proofs.
    mapping(bytes32 streamId => address) public boundSigner;

    event PoolCreated(
        bytes32 indexed poolId, bytes32 indexed streamId, address indexed streamer, address signer, uint256 epochBudget
    );
    event PoolFunded(bytes32 indexed poolId, address indexed from, uint256 amount);
    event BudgetSet(bytes32 indexed poolId, uint256 epochBudget, uint64 fromRoot);
    event Drawn(bytes32 indexed poolId, uint256 amount);
    event Refunded(bytes32 indexed poolId, uint256 amount);
    event SignerBound(bytes32 indexed streamId, address signer);

    error PoolExists();
    error UnknownPool();
    error NotStreamer();
    error NotDistributor();
    error DistributorAlreadySet();
    error ZeroAmount();
    error ZeroSigner();
    error OverBudget();
    error Underfunded();
    error ConsentExpired();
    error NoSignerConsent();
    error SignerConflict();

    constructor(IERC20 token_) Ownable(msg.sender) EIP712("StreamrP2P RewardPools", "1") {
        token = token_;
    }

    modifier onlyDistributor() {
        if (msg.sender != distributor) revert NotDistributor();
        _;
    }

    function setDistributor(address distributor_) external onlyOwner {
        if (distributor != address(0)) revert DistributorAlreadySet();
        distributor = distributor_;
    }

    function poolIdOf(bytes32 streamId, address signer) public pure returns (bytes32) {
        return keccak256(abi.encode(streamId, signer));
    }

    /// @notice The EIP-712 digest a signing key signs to let `streamer` create its pool for `streamId`.
    function consentDigest(bytes32 streamId, address streamer, uint256 deadline) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(POOL_CONSENT_TYPEHASH, streamId, streamer, deadline)));
    }

    /// @notice Creates the pool of (streamId, signer) with the caller as its streamer. The signing
    /// key consents by being the caller, or by signing consentDigest(streamId, caller, deadline).
    function createPool(
        bytes32 streamId,
        address signer,
        uint256 epochBudget,
        uint256 deadline,
        bytes calldata signerSignature
    ) external returns (bytes32 poolId) {
        if (signer == address(0)) revert ZeroSigner();
        poolId = poolIdOf(streamId, signer);
        if (pools[poolId].streamer != address(0)) revert PoolExists();
        if (msg.sender != signer) {
            if (block.timestamp > deadline) revert ConsentExpired();
            if (ECDSA.recover(consentDigest(streamId, msg.sender, deadline), signerSignature) != signer) {
                revert NoSignerConsent();
            }
        }
        pools[poolId] = Pool({
            streamer: msg.sender,
            signer: signer,
            nextBudgetFrom: 0,
            streamId: streamId,
            balance: 0,
            epochBudget: epochBudget,
            nextBudget: 0
        });
        emit PoolCreated(poolId, streamId, msg.sender, signer, epochBudget);
    }

    /// @notice A raise is in force at once; a cut from the root after next (see Pool.nextBudget).
    function setBudget(bytes32 poolId, uint256 epochBudget) external {
        Pool storage p = pools[poolId];
        if (p.streamer != msg.sender) revert NotStreamer();
        _applyPendingBudget(p);
        uint64 from = 0;
        if (epochBudget >= p.epochBudget) {
            p.epochBudget = epochBudget;
            p.nextBudgetFrom = 0;
        } else {
            from = _rootsPosted() + 1;
            p.nextBudget = epochBudget;
            p.nextBudgetFrom = from;
        }
        emit BudgetSet(poolId, epochBudget, from);
    }

    /// @notice Anyone (a supporter, a sponsor) can fund a pool.
    function fund(bytes32 poolId, uint256 amount) external nonReentrant {
        if (pools[poolId].streamer == address(0)) revert UnknownPool();
        if (amount == 0) revert ZeroAmount();
        pools[poolId].balance += amount;
        token.safeTransferFrom(msg.sender, address(this), amount);
        emit PoolFunded(poolId, msg.sender, amount);
    }

    /// @notice The budget in force now (a pending cut counts once its root has come).
    function budgetOf(bytes32 poolId) public view returns (uint256) {
        Pool storage p = pools[poolId];
        if (p.nextBudgetFrom != 0 && _rootsPosted() >= p.nextBudgetFrom) return p.nextBudget;
        return p.epochBudget;
    }

    /// @notice What the next root may draw: the budget, or less when the pool holds less.
    function drawable(bytes32 poolId) public view returns (uint256) {
        uint256 budget = budgetOf(poolId);
        uint256 balance = pools[poolId].balance;
        return balance < budget ? balance : budget;
    }

    /// @notice The stream's signing key for fraud proofs: the signer of the pool the settler drew
    /// from (zero before the first draw).
    function signerOf(bytes32 streamId) external view returns (address) {
        return boundSigner[streamId];
    }

    function draw(bytes32 poolId, uint256 amount) external nonReentrant onlyDistributor {
        Pool storage p = pools[poolId];
        if (p.streamer == address(0)) revert UnknownPool();
        _applyPendingBudget(p);
        if (amount > p.epochBudget) revert OverBudget();
        if (amount > p.balance) revert Underfunded();
        address bound = boundSigner[p.streamId];
        if (bound == address(0)) {
            boundSigner[p.streamId] = p.signer;
            emit SignerBound(p.streamId, p.signer);
        } else if (bound != p.signer) {
            revert SignerConflict();
        }
        p.balance -= amount;
        token.safeTransfer(distributor, amount);
        emit Drawn(poolId, amount);
    }

    /// @notice A voided epoch gives back what it drew.
    function refund(bytes32 poolId, uint256 amount) external nonReentrant onlyDistributor {
        if (pools[poolId].streamer == address(0)) revert UnknownPool();
        pools[poolId].balance += amount;
        token.safeTransferFrom(distributor, address(this), amount);
        emit Refunded(poolId, amount);
    }

    function _rootsPosted() internal view returns (uint64) {
        return distributor == address(0) ? 0 : IRootCounter(distributor).rootsPosted();
    }

    function _applyPendingBudget(Pool storage p) internal {
        if (p.nextBudgetFrom != 0 && _rootsPosted() >= p.nextBudgetFrom) {
            p.epochBudget = p.nextBudget;
            p.nextBudgetFrom = 0;
        }
    }
}
