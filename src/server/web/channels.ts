/**
 * What the dashboard needs from the notification side. The outbox/dispatcher implements it;
 * the dashboard only renders it, so the two can change independently.
 */
export interface ChannelStatus {
  name: string;
  /** false when the last delivery attempt failed */
  ok: boolean;
  lastError: string | null;
  /** outbox rows waiting to be sent */
  pending: number;
  /** outbox rows that gave up */
  failed: number;
}

export interface ChannelStatusProvider {
  list(): Promise<ChannelStatus[]>;
  /** Sends a test message now; rejects with a human message when the channel refuses. */
  sendTest(name: string): Promise<void>;
}

/** Until a channel is configured (or wired), the page says so instead of failing. */
export const noChannels: ChannelStatusProvider = {
  list: async () => [],
  sendTest: async (name) => {
    throw new Error(`no channel named ${name}`);
  },
};
