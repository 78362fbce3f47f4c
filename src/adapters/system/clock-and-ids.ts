// The real clock and id source behind the core's Clock and IdGenerator ports.
import { v7 as uuidv7 } from 'uuid'
import type { Clock, IdGenerator } from '../../core/ports.js'

export const systemClock: Clock = { now: () => new Date() }
export const uuidV7Ids: IdGenerator = { next: () => uuidv7() }
