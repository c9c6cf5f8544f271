// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";

/// @notice Relay nodes, their operators, stake (with an unbonding period) and backers.
/// Stake stays slashable while it unbonds: leaving does not escape a fraud proof.
/// A node is registered only with its own key's consent (an EIP-712 signature naming the
/// operator), so nobody can make themselves the operator, and so the payee, of another's node.
contract NodeRegistry is Ownable, ReentrancyGuard, EIP712, Nonces {
    using SafeERC20 for IERC20;

    struct Node {
        address operator;
        /// Packed with the operator: one slot fewer to write on register and unbond.
        uint64 unbondingEndsAt;
        uint256 stake;
        uint256 unbonding;
    }

    struct Backer {
        address account;
        uint16 bps;
    }

    /// What the node key signs: "`operator` may register me on this registry, once, until `deadline`".
    bytes32 public constant NODE_CONSENT_TYPEHASH =
        keccak256("NodeConsent(address node,address operator,uint256 nonce,uint256 deadline)");

    IERC20 public immutable stakeToken;
    uint64 public immutable unbondingPeriod;
    /// The only contract allowed to slash (the fraud-proof verifier); set once.
    address public slasher;
    /// Slashed stake not paid to reporters: locked here for ever (no function moves it), so
    /// nobody, the owner included, profits from a slash except the reporter who proved it.
    uint256 public forfeited;

    mapping(address node => Node) public nodes;
    mapping(address node => Backer[]) internal _backers;

    event NodeRegistered(address indexed node, address indexed operator, uint256 stake);
    event StakeAdded(address indexed node, uint256 amount);
    event UnbondingStarted(address indexed node, uint256 amount, uint64 endsAt);
    event Withdrawn(address indexed node, address indexed operator, uint256 amount);
    event BackersSet(address indexed node, address[] accounts, uint16[] bps);
    event Slashed(address indexed node, uint256 amount, address indexed reporter, uint256 reporterShare);

    error AlreadyRegistered();
    error UnknownNode();
    error NotOperator();
    error ZeroAmount();
    error InsufficientStake();
    error StillUnbonding();
    error NothingToWithdraw();
    error BadShares();
    error NotSlasher();
    error SlasherAlreadySet();
    error ConsentExpired();
    error NoNodeConsent();

    constructor(IERC20 token, uint64 unbondingPeriodSeconds)
        Ownable(msg.sender)
        EIP712("StreamrP2P NodeRegistry", "1")
    {
        stakeToken = token;
        unbondingPeriod = unbondingPeriodSeconds;
    }

    modifier onlyOperator(address node) {
        if (nodes[node].operator == address(0)) revert UnknownNode();
        if (nodes[node].operator != msg.sender) revert NotOperator();
        _;
    }

    function setSlasher(address slasher_) external onlyOwner {
        if (slasher != address(0)) revert SlasherAlreadySet();
        slasher = slasher_;
    }

    /// @notice The EIP-712 digest the node key signs to let `operator` register it (domain: this
    /// registry, this chain; the node's current nonce, so a consent is used at most once).
    function consentDigest(address node, address operator, uint256 deadline) public view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(abi.encode(NODE_CONSENT_TYPEHASH, node, operator, nonces(node), deadline))
        );
    }

    /// @notice Registers `node` with the caller as its operator and `amount` as stake; needs the
    /// node key's signature over consentDigest(node, msg.sender, deadline).
    function register(address node, uint256 amount, uint256 deadline, bytes calldata nodeSignature)
        external
        nonReentrant
    {
        if (nodes[node].operator != address(0)) revert AlreadyRegistered();
        if (amount == 0) revert ZeroAmount();
        if (block.timestamp > deadline) revert ConsentExpired();
        if (ECDSA.recover(consentDigest(node, msg.sender, deadline), nodeSignature) != node) revert NoNodeConsent();
        _useNonce(node);
        nodes[node] = Node({operator: msg.sender, unbondingEndsAt: 0, stake: amount, unbonding: 0});
        stakeToken.safeTransferFrom(msg.sender, address(this), amount);
        emit NodeRegistered(node, msg.sender, amount);
    }

    function addStake(address node, uint256 amount) external nonReentrant onlyOperator(node) {
        if (amount == 0) revert ZeroAmount();
        nodes[node].stake += amount;
        stakeToken.safeTransferFrom(msg.sender, address(this), amount);
        emit StakeAdded(node, amount);
    }

    /// @notice Starts (or extends) unbonding `amount`; the whole unbonding balance waits a full period.
    function unbond(address node, uint256 amount) external onlyOperator(node) {
        Node storage n = nodes[node];
        if (amount == 0) revert ZeroAmount();
        if (amount > n.stake) revert InsufficientStake();
        n.stake -= amount;
        n.unbonding += amount;
        n.unbondingEndsAt = uint64(block.timestamp) + unbondingPeriod;
        emit UnbondingStarted(node, amount, n.unbondingEndsAt);
    }

    function withdraw(address node) external nonReentrant onlyOperator(node) {
        Node storage n = nodes[node];
        if (n.unbonding == 0) revert NothingToWithdraw();
        if (block.timestamp < n.unbondingEndsAt) revert StillUnbonding();
        uint256 amount = n.unbonding;
        n.unbonding = 0;
        stakeToken.safeTransfer(msg.sender, amount);
        emit Withdrawn(node, msg.sender, amount);
    }

    /// @notice Supporters who funded the node and their shares of its rewards, in basis points.
    function setBackers(address node, address[] calldata accounts, uint16[] calldata bps) external onlyOperator(node) {
        if (accounts.length != bps.length || accounts.length > 32) revert BadShares();
        uint256 total;
        delete _backers[node];
        for (uint256 i = 0; i < accounts.length; ++i) {
            if (accounts[i] == address(0) || bps[i] == 0) revert BadShares();
            total += bps[i];
            _backers[node].push(Backer({account: accounts[i], bps: bps[i]}));
        }
        if (total > 10_000) revert BadShares();
        emit BackersSet(node, accounts, bps);
    }

    function backersOf(address node) external view returns (Backer[] memory) {
        return _backers[node];
    }

    function operatorOf(address node) external view returns (address) {
        return nodes[node].operator;
    }

    /// @notice Takes `bps` of everything the node has at stake (bonded and unbonding);
    /// `reporterBps` of that goes to the reporter, the rest is forfeited (locked in this contract).
    function slash(address node, uint16 bps, address reporter, uint16 reporterBps)
        external
        nonReentrant
        returns (uint256 slashed)
    {
        if (msg.sender != slasher) revert NotSlasher();
        Node storage n = nodes[node];
        if (n.operator == address(0)) revert UnknownNode();
        uint256 fromStake = (n.stake * bps) / 10_000;
        uint256 fromUnbonding = (n.unbonding * bps) / 10_000;
        n.stake -= fromStake;
        n.unbonding -= fromUnbonding;
        slashed = fromStake + fromUnbonding;
        uint256 reporterShare = (slashed * reporterBps) / 10_000;
        if (reporterShare > 0) stakeToken.safeTransfer(reporter, reporterShare);
        forfeited += slashed - reporterShare;
        emit Slashed(node, slashed, reporter, reporterShare);
    }
}
