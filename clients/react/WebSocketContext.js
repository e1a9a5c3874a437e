// The NUMENEON web app's WebSocketContext (the design notes' sketch), on numeneon-realtime.js:
// connects while a user is logged in, closes on logout, and keeps the sketch's API,
// `useWebSocket()` -> { isConnected, subscribe }, where a listener receives `message.data`.
//
//   <AuthProvider>
//     <WebSocketProvider user={user} getToken={() => token} onAuthFailure={logout}>
//       <FriendsProvider>...</FriendsProvider>
//     </WebSocketProvider>
//   </AuthProvider>
//
// Plain JavaScript (no JSX), so that it runs untranspiled; React is a peer dependency.

import {
  createContext,
  createElement,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useRef,
  useState,
} from "react";

import { createRealtime } from "../numeneon-realtime.js";

const WebSocketContext = createContext(null);

function addListener(registry, key, callback) {
  if (!registry.has(key)) registry.set(key, new Set());
  registry.get(key).add(callback);
  return () => {
    registry.get(key)?.delete(callback);
  };
}

function callAll(registry, key, args) {
  for (const callback of [...(registry.get(key) ?? [])]) {
    try {
      callback(...args);
    } catch (error) {
      console.error("WebSocketProvider: a listener threw", error);
    }
  }
}

/**
 * Props:
 * - `user`: the logged-in user (`{ id, ... }`) or null; the socket lives while it is set.
 * - `getToken` (the access JWT; refresh it when called with `{ reason: "expired" }`) or
 *   `getTicket` (a fresh ticket from POST /api/auth/ws-ticket/). Null means logged out.
 * - `onAuthFailure({ code })`: the credential was refused (4001/4003): log out.
 * - `onReload({ reason })`: what the socket missed cannot be replayed: refetch over REST.
 * - `url` (default: this page's host), `storage` (e.g. `localStorage`, to resume across page
 *   loads).
 */
export function WebSocketProvider({
  user,
  getToken,
  getTicket,
  onAuthFailure,
  onReload,
  url,
  storage,
  children,
}) {
  const [status, setStatus] = useState("idle");
  // Listeners outlive any one connection: subscribe() works before login and across logins.
  const subscribersRef = useRef(new Map());
  const handlersRef = useRef(new Map());
  const realtimeRef = useRef(null);
  // The latest props, read when called: a new getToken each render must not reconnect.
  const propsRef = useRef(null);
  propsRef.current = { getToken, getTicket, onAuthFailure, onReload };

  const userId = user ? (user.id ?? "anonymous") : null;
  const usesTicket = typeof getTicket === "function";

  useEffect(() => {
    if (userId === null) {
      setStatus("idle");
      return undefined;
    }
    const credentials = usesTicket
      ? { getTicket: (info) => propsRef.current.getTicket(info) }
      : { getToken: (info) => propsRef.current.getToken?.(info) ?? null };
    const realtime = createRealtime({
      ...credentials,
      url,
      storage,
      userId: userId === "anonymous" ? undefined : userId,
      onAuthFailure: (info) => propsRef.current.onAuthFailure?.(info),
      onReload: (info) => propsRef.current.onReload?.(info),
    });
    realtimeRef.current = realtime;
    const offStatus = realtime.on("status", (next) => setStatus(next));
    const offHandlers = ["reload", "replay", "error"].map((name) =>
      realtime.on(name, (info) => callAll(handlersRef.current, name, [info])),
    );
    const offEvents = realtime.subscribe("*", (data, frame) => {
      callAll(subscribersRef.current, frame.type, [data, frame]);
      callAll(subscribersRef.current, "*", [data, frame]);
    });
    return () => {
      offStatus();
      for (const off of offHandlers) off();
      offEvents();
      realtime.close();
      realtimeRef.current = null;
      setStatus("idle");
    };
  }, [userId, usesTicket, url, storage]);

  /** `subscribe(type, (data, frame) => ...)` -> unsubscribe, as in the design notes. */
  const subscribe = useCallback(
    (type, callback) => addListener(subscribersRef.current, type, callback),
    [],
  );
  /** `on("reload", ({ reason }) => refetch())` -> off; also "replay" and "error". */
  const on = useCallback((name, callback) => addListener(handlersRef.current, name, callback), []);
  const ack = useCallback((id) => realtimeRef.current?.ack(id) ?? false, []);

  const value = useMemo(
    () => ({ isConnected: status === "connected", status, subscribe, on, ack }),
    [status, subscribe, on, ack],
  );
  return createElement(WebSocketContext.Provider, { value }, children);
}

export function useWebSocket() {
  const context = useContext(WebSocketContext);
  if (!context) {
    throw new Error("useWebSocket must be used within WebSocketProvider");
  }
  return context;
}

export default WebSocketContext;
