/**
 * The things a tester or the demo can make happen, shared by the control API
 * (HTTP) and `sim.act` (in process). Each one changes the world through its
 * rules and answers the changed record as the plugin would show it.
 * Refusals are SimErrors (400 bad input, 404 unknown, 409 not now).
 */
import type { DeliveryOrder, Table, User } from '../protocol/front.ts';
import { renderDelivery, renderOrder, renderTable, renderUser } from './render.ts';
import type { OrderOut, View } from './render.ts';
import type {
  DeliveryInput, DeliveryStatusName, ItemInput, ItemStatusName, OrderInput, StaffInput, TableInput, World,
} from './world.ts';

export interface Actions {
  /** Opens a table order. */
  createOrder(input: OrderInput): OrderOut;
  /** Adds items to a New order. `id` is the order's Id or Number everywhere here. */
  addItems(id: string, items: ItemInput[]): OrderOut;
  /** Marks one item deleted. */
  deleteItem(id: string, itemId: string): OrderOut;
  /** Kitchen progress: every live item one step, or (with `to`) up to that status; optionally one item only. */
  kitchen(id: string, to?: ItemStatusName, itemId?: string): OrderOut;
  /** Adds a percentage discount. */
  discount(id: string, percent: number, name?: string): OrderOut;
  /** Prints the bill: Status Bill, BillTime set. */
  bill(id: string): OrderOut;
  /** Pays (by name 'Наличные', 'Банковская карта', 'EVVA' or code 'EVVAP'); Closed once paid in full. */
  close(id: string, paymentType: string, sum?: number): OrderOut;
  /** Status Deleted. */
  deleteOrder(id: string): OrderOut;
  createDelivery(input: DeliveryInput): DeliveryOrder;
  /** One step along the delivery flow, or to `to` (Cancelled allowed before OnWay). */
  moveDelivery(id: string, to?: DeliveryStatusName): DeliveryOrder;
  /** Pays a delivery in advance: its order is Closed while the delivery goes on (a pickup is closed too). */
  prepayDelivery(id: string, paymentType: string): DeliveryOrder;
  addStaff(input: StaffInput): User;
  removeStaff(name: string): User;
  addTable(input: TableInput): Table;
  removeTable(num: number): Table;
}

export function actions(world: World, view: () => View): Actions {
  const order = (id: string) => world.order(id);
  return {
    createOrder: (input) => renderOrder(view(), world.createOrder(input)),
    addItems: (id, items) => renderOrder(view(), world.addItems(order(id), items)),
    deleteItem: (id, itemId) => renderOrder(view(), world.deleteItem(order(id), itemId)),
    kitchen: (id, to, itemId) => renderOrder(view(), world.kitchen(order(id), to, itemId)),
    discount: (id, percent, name) => renderOrder(view(), world.addDiscount(order(id), name ?? `Скидка ${percent}%`, percent)),
    bill: (id) => renderOrder(view(), world.bill(order(id))),
    close: (id, paymentType, sum) => renderOrder(view(), world.pay(order(id), paymentType, sum)),
    deleteOrder: (id) => renderOrder(view(), world.deleteOrder(order(id))),
    createDelivery: (input) => renderDelivery(view(), world.createDelivery(input)),
    moveDelivery: (id, to) => renderDelivery(view(), world.advanceDelivery(world.delivery(id), to)),
    prepayDelivery: (id, paymentType) => renderDelivery(view(), world.prepayDelivery(world.delivery(id), paymentType)),
    addStaff: (input) => renderUser(view(), world.addStaff(input)),
    removeStaff: (name) => renderUser(view(), world.removeStaff(name)),
    addTable: (input) => renderTable(view(), world.addTable(input)),
    removeTable: (num) => renderTable(view(), world.removeTable(num)),
  };
}
