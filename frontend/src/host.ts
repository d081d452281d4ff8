// TensorBoard's (experimental) host messaging: the plugin iframe posts "experimental.bootstrap" with
// a MessagePort; the host then broadcasts JSON messages such as "experimental.DataReloaded" after
// each data reload (its reload button or timer) and waits for a reply to each.

interface HostMessage {
  type: string;
  id: number;
  isReply: boolean;
}

const DATA_RELOADED = "experimental.DataReloaded";

/** Calls `onReload` whenever TensorBoard has reloaded its data; a no-op outside TensorBoard. */
export function onHostReload(onReload: () => void): void {
  if (window.parent === window) return;
  const channel = new MessageChannel();
  channel.port1.onmessage = (e: MessageEvent<string>) => {
    let message: HostMessage;
    try {
      message = JSON.parse(e.data) as HostMessage;
    } catch {
      return;
    }
    if (message.isReply) return;
    if (message.type === DATA_RELOADED) onReload();
    channel.port1.postMessage(
      JSON.stringify({ type: message.type, id: message.id, payload: null, error: null, isReply: true }),
    );
  };
  window.parent.postMessage("experimental.bootstrap", "*", [channel.port2]);
}
