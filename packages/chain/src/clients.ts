import {
  type Account,
  type Chain,
  createPublicClient,
  createWalletClient,
  defineChain,
  http,
  type PublicClient,
  type Transport,
  type WalletClient,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";

export type Wallet = WalletClient<Transport, Chain, Account>;

/** A chain description for any EVM JSON-RPC URL. */
export function chainAt(rpcUrl: string, chainId: number): Chain {
  return defineChain({
    id: chainId,
    name: chainId === 31337 ? "StreamrP2P dev chain" : `chain ${chainId}`,
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  });
}

export function publicClient(chain: Chain): PublicClient {
  return createPublicClient({ chain, transport: http(chain.rpcUrls.default.http[0]) }) as PublicClient;
}

export function wallet(chain: Chain, privateKey: `0x${string}`): Wallet {
  return createWalletClient({
    chain,
    account: privateKeyToAccount(privateKey),
    transport: http(chain.rpcUrls.default.http[0]),
  });
}
