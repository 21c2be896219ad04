/** Whether this hub can serve: today, whether its store answers. */
import type { ServiceContext } from './context.ts';

export class HealthService {
  constructor(private readonly ctx: ServiceContext) {}

  /** True when the store answers a read; false (never a throw) when it does not. */
  async storeReachable(): Promise<boolean> {
    try {
      await this.ctx.hub.db.selectFrom('events').select('id').limit(1).execute();
      return true;
    } catch {
      return false;
    }
  }
}
