// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";

/// @notice Streamer-created, anyone-funded reward pools, one per stream, with a per-epoch budget.
/// Only the epoch distributor draws from them, and never more than the pool holds.
contract RewardPools is Ownable, ReentrancyGuard {
    using SafeERC20 for IERC20;

    struct Pool {
        address streamer;
        /// The stream's segment-signing key: fraud proofs check origin attestations against it.
        address signer;
        uint256 balance;
        uint256 epochBudget;
    }

    IERC20 public immutable token;
    address public distributor;
    mapping(bytes32 streamId => Pool) public pools;

    event PoolCreated(bytes32 indexed streamId, address indexed streamer, address signer, uint256 epochBudget);
    event PoolFunded(bytes32 indexed streamId, address indexed from, uint256 amount);
    event BudgetSet(bytes32 indexed streamId, uint256 epochBudget);
    event Drawn(bytes32 indexed streamId, uint256 amount);
    event Refunded(bytes32 indexed streamId, uint256 amount);

    error PoolExists();
    error UnknownPool();
    error NotStreamer();
    error NotDistributor();
    error DistributorAlreadySet();
    error ZeroAmount();
    error OverBudget();
    error Underfunded();

    constructor(IERC20 token_) Ownable(msg.sender) {
        token = token_;
    }

    function setDistributor(address distributor_) external onlyOwner {
        if (distributor != address(0)) revert DistributorAlreadySet();
        distributor = distributor_;
    }

    function createPool(bytes32 streamId, address signer, uint256 epochBudget) external {
        if (pools[streamId].streamer != address(0)) revert PoolExists();
        pools[streamId] = Pool({streamer: msg.sender, signer: signer, balance: 0, epochBudget: epochBudget});
        emit PoolCreated(streamId, msg.sender, signer, epochBudget);
    }

    function setBudget(bytes32 streamId, uint256 epochBudget) external {
        if (pools[streamId].streamer != msg.sender) revert NotStreamer();
        pools[streamId].epochBudget = epochBudget;
        emit BudgetSet(streamId, epochBudget);
    }

    /// @notice Anyone (a supporter, a sponsor) can fund a stream's pool.
    function fund(bytes32 streamId, uint256 amount) external nonReentrant {
        if (pools[streamId].streamer == address(0)) revert UnknownPool();
        if (amount == 0) revert ZeroAmount();
        pools[streamId].balance += amount;
        token.safeTransferFrom(msg.sender, address(this), amount);
        emit PoolFunded(streamId, msg.sender, amount);
    }

    /// @notice What an epoch may draw: the budget, or less when the pool holds less.
    function drawable(bytes32 streamId) public view returns (uint256) {
        Pool storage p = pools[streamId];
        return p.balance < p.epochBudget ? p.balance : p.epochBudget;
    }

    function signerOf(bytes32 streamId) external view returns (address) {
        return pools[streamId].signer;
    }

    function draw(bytes32 streamId, uint256 amount) external nonReentrant {
        if (msg.sender != distributor) revert NotDistributor();
        Pool storage p = pools[streamId];
        if (p.streamer == address(0)) revert UnknownPool();
        if (amount > p.epochBudget) revert OverBudget();
        if (amount > p.balance) revert Underfunded();
        p.balance -= amount;
        token.safeTransfer(distributor, amount);
        emit Drawn(streamId, amount);
    }

    /// @notice A voided epoch gives back what it drew.
    function refund(bytes32 streamId, uint256 amount) external nonReentrant {
        if (msg.sender != distributor) revert NotDistributor();
        pools[streamId].balance += amount;
        token.safeTransferFrom(distributor, address(this), amount);
        emit Refunded(streamId, amount);
    }
}
