import { createServer, type Server } from "node:net";
import type { Config } from "./config.ts";
import { ConfigError } from "./config-error.ts";

type Address = Pick<Config, "port" | "host">;

/** Listens on HOST:PORT; what keeps it from doing so is a ConfigError naming the variable to change. */
export function listenOn<Listener extends Server>(server: Listener, address: Address): Promise<Listener> {
  return new Promise((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) => reject(listenError(error, address)));
    server.listen(address.port, address.host, () => resolve(server));
  });
}

/**
 * Binds HOST:PORT and lets it go, so a port in use or a HOST not of this machine is refused in a
 * moment, not after the seconds `serve` spends opening and migrating its database. The real listen,
 * after them, still reports a port another process took in between.
 */
export async function checkAddress(address: Address): Promise<void> {
  // A client that connects in the instant the port is held is turned away, as by a closed port.
  const probe = await listenOn(
    createServer((socket) => socket.destroy()),
    address,
  );
  await new Promise<void>((resolve) => probe.close(() => resolve()));
}

function listenError(error: NodeJS.ErrnoException, { port, host }: Address): Error {
  switch (error.code) {
    case "EADDRINUSE":
      return new ConfigError(`PORT ${port} is in use on ${host}`);
    case "EACCES":
      return new ConfigError(`PORT ${port} is not open to this user (ports below 1024 need privileges)`);
    case "EADDRNOTAVAIL":
      return new ConfigError(`HOST ${host} is not an address of this machine`);
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return new ConfigError(`HOST ${host} is neither an address nor a name this machine resolves`);
    default:
      return error;
  }
}
