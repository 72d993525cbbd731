/** Telegram targets: "CHAT_ID" or "CHAT_ID:THREAD_ID" (a forum topic), as given to --telegram-chat. */

export interface TelegramTarget {
  /** numeric chat id (negative for groups and channels) or "@channelname" */
  chatId: number | string;
  /** forum topic (message_thread_id) */
  threadId?: number;
}

const TARGET = /^(-?\d{1,20}|@[A-Za-z]\w{3,31})(?::(\d{1,12}))?$/;

export function parseTelegramTarget(text: string): TelegramTarget | null {
  const m = TARGET.exec(text.trim());
  if (!m) return null;
  const chat = m[1] as string;
  const chatId = chat.startsWith("@") ? chat : Number(chat);
  if (typeof chatId === "number" && !Number.isSafeInteger(chatId)) return null;
  return m[2] ? { chatId, threadId: Number(m[2]) } : { chatId };
}

/** Groups, supergroups and channels have negative ids; Telegram limits them to 20 messages a minute. */
export const isGroupChat = (t: TelegramTarget) => typeof t.chatId === "string" || t.chatId < 0;
