// What the API offers about notifications: the deliveries (by status, e.g. the dead-letter)
// and retrying a dead one by hand. Sending is the relay role's (notification-loop.ts).
import { errors } from '../errors.js'
import type { DeliveryStatus, NotificationDelivery, NotificationRepository } from './ports.js'

export interface NotificationService {
  list(filter: { status?: DeliveryStatus, webhookId?: string, before?: string, limit?: number }): Promise<NotificationDelivery[]>
  /** A dead delivery back to pending, its attempts reset: sent again on the next pass. */
  retry(id: string): Promise<NotificationDelivery>
}

export const createNotificationService = ({ repo }: { repo: NotificationRepository }): NotificationService => ({
  list: ({ limit = 100, ...filter }) => repo.list({ ...filter, limit }),
  async retry (id) {
    const retried = await repo.retryDead(id)
    if (retried) return retried
    const existing = await repo.find(id)
    if (!existing) throw errors.deliveryNotFound(id)
    throw errors.deliveryNotDead(id, existing.status)
  },
})
