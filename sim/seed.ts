/**
 * Builds the restaurant a seed describes: halls and tables, kitchens and a bar
 * (sections without tables), staff (some of them couriers in iikoOffice, one
 * courier without a PIN: the plugin shows neither), a menu four groups deep
 * with compound items sold in sizes, the payment types, and a morning of
 * orders and deliveries in every state, a prepaid delivery on its way among
 * them. The same seed and start instant always give the same world, byte for byte.
 */
import type { DeliveryRec, ItemInput, OrderRec, ProductRec, StaffRec, TemplateRec, World } from './world.ts';

/** How long before the start instant the seeded morning begins. */
export const SEED_SPAN_MIN = 180;

interface MenuNode { name: string; kitchen?: string; minutes?: number; goods?: boolean; template?: TemplateRec; items?: [string, number][]; children?: MenuNode[] }

/** The menu tree. Base prices in rubles; the seed moves each by up to ±10 %. */
const MENU: MenuNode[] = [
  {
    name: 'Кухня', kitchen: 'Горячий цех', minutes: 20, children: [
      {
        name: 'Горячие блюда', children: [
          {
            name: 'Мясо', minutes: 25, children: [
              { name: 'Стейки', minutes: 30, items: [['Стейк рибай', 2400], ['Стейк стриплойн', 2100], ['Стейк мачете', 1600], ['Томагавк (за кг)', 6900]] },
              { name: 'Блюда из свинины', items: [['Свиная корейка', 890], ['Шашлык из свинины', 760], ['Свиные рёбрышки BBQ', 980]] },
            ],
          },
          { name: 'Рыба', items: [['Лосось на гриле', 1350], ['Судак с овощами', 940], ['Дорадо на гриле', 1190], ['Треска в кляре', 720]] },
          { name: 'Паста', minutes: 15, items: [['Паста карбонара', 620], ['Паста болоньезе', 590], ['Паста с морепродуктами', 880], ['Феттучини с грибами', 560]] },
        ],
      },
      { name: 'Холодные закуски', kitchen: 'Холодный цех', minutes: 10, items: [['Сельдь под шубой', 390], ['Оливье', 420], ['Брускетта с томатами', 350], ['Карпаччо из говядины', 690], ['Сырная тарелка', 780], ['Мясное ассорти', 850]] },
      { name: 'Салаты', kitchen: 'Холодный цех', minutes: 10, items: [['Цезарь с курицей', 540], ['Цезарь с креветками', 690], ['Греческий салат', 480], ['Винегрет', 290], ['Салат с тунцом', 610], ['Тёплый салат с говядиной', 650]] },
      { name: 'Супы', minutes: 10, items: [['Борщ со сметаной', 420], ['Солянка сборная', 460], ['Уха по-фински', 520], ['Куриный суп с лапшой', 350], ['Грибной крем-суп', 390], ['Окрошка на квасе', 370]] },
      { name: 'Горячие закуски', minutes: 15, items: [['Пельмени домашние', 480], ['Вареники с картофелем', 390], ['Блины с красной икрой', 720], ['Жюльен с грибами', 430], ['Сырники со сметаной', 360]] },
      { name: 'Гарниры', minutes: 10, items: [['Картофель фри', 250], ['Картофельное пюре', 220], ['Рис с овощами', 230], ['Гречка с грибами', 260], ['Овощи гриль', 340]] },
      { name: 'Десерты', kitchen: 'Кондитерский цех', minutes: 5, items: [['Наполеон', 380], ['Медовик', 360], ['Чизкейк Нью-Йорк', 420], ['Тирамису', 450], ['Мороженое пломбир', 290], ['Шоколадный фондан', 470]] },
      { name: 'Хлеб и соусы', kitchen: 'Холодный цех', minutes: 2, items: [['Хлебная корзина', 150], ['Соус сырный', 90], ['Соус барбекю', 90], ['Сметана', 80], ['Аджика', 90]] },
    ],
  },
  {
    name: 'Бар', kitchen: 'Бар', minutes: 3, children: [
      {
        name: 'Безалкогольные напитки', children: [
          {
            name: 'Горячие напитки', children: [
              { name: 'Кофе', items: [['Эспрессо', 180], ['Американо', 200], ['Капучино', 260], ['Латте', 280], ['Раф ванильный', 320]] },
              { name: 'Чай', template: { name: 'Чай', scale: 'Размер_Чай', sizes: ['0.3', '0.5'] }, items: [['Чай чёрный', 250], ['Чай зелёный', 250], ['Чай облепиховый', 390], ['Иван-чай', 290]] },
            ],
          },
          { name: 'Холодные напитки', items: [['Морс клюквенный', 220], ['Компот из сухофруктов', 190], ['Лимонад тархун', 290], ['Квас хлебный', 210], ['Сок апельсиновый', 240]] },
          { name: 'Вода', goods: true, minutes: 0, items: [['Минеральная вода 0,5 л', 190]] },
        ],
      },
      {
        name: 'Алкоголь', children: [
          { name: 'Пиво', goods: true, minutes: 0, items: [['Жигулёвское 0,5 л', 320], ['Нефильтрованное 0,5 л', 380], ['Сидр яблочный', 420], ['Безалкогольное пиво', 290]] },
          { name: 'Вино', items: [['Вино красное, бокал', 490], ['Вино белое, бокал', 470], ['Игристое, бокал', 520]] },
          { name: 'Крепкие', items: [['Водка, 50 мл', 250], ['Коньяк, 50 мл', 450], ['Виски, 50 мл', 520], ['Настойка хреновуха, 50 мл', 230]] },
        ],
      },
    ],
  },
];

const PEOPLE = [
  'Иванова Мария', 'Петров Алексей', 'Смирнова Ольга', 'Кузнецов Дмитрий', 'Попова Анна', 'Соколов Игорь',
  'Лебедева Екатерина', 'Козлов Сергей', 'Новикова Татьяна', 'Морозов Андрей', 'Волкова Наталья', 'Фёдоров Павел',
  'Михайлова Юлия', 'Егоров Роман',
];
const CUSTOMERS = ['Александр', 'Виктория', 'Михаил', 'Елена', 'Николай', 'Дарья', 'Артём', 'Ксения'];

/** Kitchens and the bar: sections without tables that items are cooked at (recorded: «Экран повара 1», «Выдача»). */
const KITCHENS = ['Горячий цех', 'Холодный цех', 'Кондитерский цех', 'Бар'];
/** Sold in sizes under a template: ordered as compound items (Product null, PrimaryComponent, Size, Template), as recorded. */
const SHAWARMA: MenuNode = { name: 'Шаурма', minutes: 15, template: { name: 'Для шаурмы', scale: 'Размер шаурмы', sizes: ['мал', 'сред'] }, items: [['Шаурма с курицей', 320], ['Шаурма со свининой', 340]] };

/** Seed choices tests use to build a restaurant with (or without) a given setup problem. */
export interface SeedOptions {
  /** Group levels at most: deeper groups are folded into their ancestor at this level (default: the full four). */
  menuLevels?: number;
  /** EVVA's payment type as iiko Office holds it; null: the venue never added one (the morning's EVVA order is paid by card). */
  evvaPayment?: { name: string; code: string } | null;
}

export function seedWorld(world: World, opts: SeedOptions = {}): void {
  const rng = world.rng;
  const clock = world.clock;

  // Halls and tables: main hall 1–12, veranda 21–28 (numbers are not contiguous on purpose).
  const hall = { id: rng.guid(), name: 'Основной зал', kind: 'hall' as const };
  const veranda = { id: rng.guid(), name: 'Веранда', kind: 'hall' as const };
  world.sections.push(hall, veranda);
  for (let n = 1; n <= 12; n++) world.tables.push({ id: rng.guid(), number: n, name: `Стол ${n}`, seats: rng.pick([2, 4, 4, 6]), sectionId: hall.id, active: true });
  for (let n = 21; n <= 28; n++) world.tables.push({ id: rng.guid(), number: n, name: `Веранда ${n - 20}`, seats: rng.pick([2, 4]), sectionId: veranda.id, active: n !== 28 });

  // Staff: admin, cashier, three waiters (one of them may deliver too), three couriers (the last without a PIN).
  // Whether someone is a courier or has a PIN is iikoOffice's knowledge: the plugin shows neither.
  const names = rng.shuffle(PEOPLE).slice(0, 8);
  const person = (i: number, role: string, courier: boolean, hasPin = true, phone: string | null = null): StaffRec => ({
    id: rng.guid(), name: names[i] as string, code: String(i + 1), role, courier, hasPin, phone, sessionOpen: true,
  });
  const phone = () => `+7916${String(rng.int(0, 9_999_999)).padStart(7, '0')}`;
  world.staff.push(
    person(0, 'Администратор', true),
    person(1, 'Кассир', false),
    person(2, 'Официант', false),
    person(3, 'Официант', false),
    person(4, 'Официант', true, true, phone()),
    person(5, 'Курьер', true, true, phone()),
    person(6, 'Курьер', true, true, phone()),
    person(7, 'Курьер', true, false, phone()),
  );
  (world.staff[6] as StaffRec).sessionOpen = false;

  // The menu.
  let code = rng.int(1, 40) * 100;
  const walk = (node: MenuNode, parentId: string | null, kitchen: string, minutes: number, goods: boolean, level = 1): void => {
    const fold = opts.menuLevels !== undefined && level > opts.menuLevels && parentId !== null;
    const id = fold ? parentId : rng.guid();
    const k = node.kitchen ?? kitchen;
    const m = node.minutes ?? minutes;
    const g = node.goods ?? goods;
    if (!fold) world.groups.push({ id, name: node.name, parentId, active: true });
    for (const [name, base] of node.items ?? []) {
      const price = Math.max(50, Math.round((base * (0.9 + rng.next() * 0.2)) / 10) * 10);
      world.products.push({
        id: rng.guid(), code: String(++code).padStart(5, '0'), name, price, groupId: id,
        type: g ? 'Goods' : 'Dish', kitchen: k, cookingMinutes: m, byWeight: name.includes('за кг'), active: true,
        template: node.template ?? null,
      });
    }
    for (const child of node.children ?? []) walk(child, id, k, m, g, fold ? level : level + 1);
  };
  for (const root of MENU) walk(root, null, 'Горячий цех', 15, false);
  // One product is off the menu today: it stays listed with IsActive false.
  const off = rng.pick(world.products);
  off.active = false;

  world.paymentTypes.push(
    { id: rng.guid(), name: 'Наличные', kind: 'Cash', code: 'CASH' },
    { id: rng.guid(), name: 'Банковская карта', kind: 'Card', code: 'CARD' },
  );
  const evva = opts.evvaPayment === undefined ? { name: 'EVVA', code: 'EVVAP' } : opts.evvaPayment;
  if (evva) world.paymentTypes.push({ id: rng.guid(), name: evva.name, kind: 'Card', code: evva.code });

  world.lastOrderNumber = rng.int(0, 40);
  world.lastKitchenNumber = rng.int(0, 20);

  // The morning, as a timeline of minutes before the start instant. The caller holds
  // restaurant time at (start - SEED_SPAN_MIN) and this walks it forward to the start,
  // so every stamp depends only on the seed and the start.
  const begin = clock.now();
  const tables = rng.shuffle(world.tables.filter((t) => t.active).map((t) => t.number));
  let ti = 0;
  const nextTable = () => tables[ti++ % tables.length] as number;
  const items = (n: number): ItemInput[] =>
    Array.from({ length: n }, () => pickItem(world, rng.pick(world.products.filter((p) => p.active))));
  const open = (n: number, guests = 1): OrderRec => world.createOrder({ tableNum: nextTable(), items: items(n), guests });
  const customer = () => ({ customerName: rng.pick(CUSTOMERS), phone: phone() });
  const o: Record<string, OrderRec> = {};
  const d: Record<string, DeliveryRec> = {};
  const get = <T>(m: Record<string, T>, k: string): T => {
    const v = m[k];
    if (v === undefined) throw new Error(`seed timeline uses '${k}' before it exists`);
    return v;
  };

  const timeline: [number, () => void][] = [
    // a: served, billed, paid in cash.
    [175, () => { o.a = open(3); }],
    [170, () => world.kitchen(get(o, 'a'))],
    [160, () => world.kitchen(get(o, 'a'), 'Served')],
    [140, () => world.bill(get(o, 'a'))],
    [138, () => world.pay(get(o, 'a'), 'Наличные')],
    // b: two guests, 10 % off, paid with EVVA.
    [150, () => { o.b = open(4, 2); world.addDiscount(get(o, 'b'), 'Скидка 10%', 10); }],
    [145, () => world.kitchen(get(o, 'b'), 'Served')],
    [110, () => world.bill(get(o, 'b'))],
    [105, () => world.pay(get(o, 'b'), evva ? evva.name : 'Банковская карта')],
    // c: opened by mistake, deleted.
    [130, () => { o.c = open(2); }],
    [125, () => world.deleteOrder(get(o, 'c'))],
    // d1: a delivery that went all the way.
    [100, () => { d.d1 = world.createDelivery({ items: items(3), ...customer() }); }],
    [95, () => world.advanceDelivery(get(d, 'd1'), 'New')],
    [80, () => world.advanceDelivery(get(d, 'd1'), 'OnWay')],
    [50, () => world.advanceDelivery(get(d, 'd1'), 'Closed')],
    // e2: served and waiting with a bill.
    [90, () => { o.e2 = open(3); }],
    [85, () => world.kitchen(get(o, 'e2'), 'Served')],
    [30, () => world.bill(get(o, 'e2'))],
    // e: in the kitchen: one item cooked, one cooking, the rest printed and waiting.
    [60, () => { o.e = open(4); }],
    [55, () => world.kitchen(get(o, 'e'), 'PrintedNotCooking')],
    [45, () => { const e = get(o, 'e'); world.kitchen(e, 'CookingStarted', world.items(e)[1]?.id); }],
    [42, () => { const e = get(o, 'e'); world.kitchen(e, 'CookingCompleted', world.items(e)[0]?.id); }],
    // d2: a delivery being cooked.
    [52, () => { d.d2 = world.createDelivery({ items: items(2), ...customer() }); }],
    [44, () => world.advanceDelivery(get(d, 'd2'), 'New')],
    // Added last, so that every earlier draw (and the worlds tests know) stays as it was:
    // d5: paid online in advance, so its order is Closed while the courier is on the way;
    [4, () => { d.d5 = world.createDelivery({ items: items(2), ...customer() }); }],
    [3, () => world.advanceDelivery(get(d, 'd5'), 'New')],
    [3, () => world.prepayDelivery(get(d, 'd5'), 'Банковская карта')],
    [2, () => world.advanceDelivery(get(d, 'd5'), 'OnWay')],
    // d6: a pickup, cooked and waiting at the counter.
    [2, () => { d.d6 = world.createDelivery({ items: items(2), ...customer(), selfService: true }); }],
    [1, () => world.advanceDelivery(get(d, 'd6'), 'Waiting')],
    // f: just opened, more items later.
    [40, () => { o.f = open(2); }],
    // g: two guests, served, one item removed and another added.
    [35, () => { o.g = open(5, 2); }],
    [33, () => world.kitchen(get(o, 'g'))],
    [26, () => world.kitchen(get(o, 'g'), 'Served')],
    [20, () => {
      const g = get(o, 'g');
      const victim = world.items(g)[1];
      if (victim) world.deleteItem(g, victim.id);
      world.addItems(g, items(1));
    }],
    // h: billed and half paid by card.
    [25, () => { o.h = open(3); world.kitchen(get(o, 'h'), 'Served'); }],
    [15, () => world.bill(get(o, 'h'))],
    [12, () => world.pay(get(o, 'h'), 'Банковская карта', Math.floor(world.resultSum(get(o, 'h')) / 2))],
    // d3: pick-up, cancelled; d4: just taken.
    [16, () => { d.d3 = world.createDelivery({ items: items(2), ...customer(), selfService: true }); }],
    [14, () => world.advanceDelivery(get(d, 'd3'), 'Cancelled')],
    [8, () => { d.d4 = world.createDelivery({ items: items(4), ...customer(), comment: 'Позвонить за 10 минут' }); }],
    [5, () => world.addItems(get(o, 'f'), items(2))],
  ];
  timeline.sort((x, y) => y[0] - x[0]);
  for (const [minutesAgo, act] of timeline) {
    clock.advance(begin + (SEED_SPAN_MIN - minutesAgo) * 60_000 - clock.now());
    act();
  }
  clock.advance(begin + SEED_SPAN_MIN * 60_000 - clock.now());

  // Drawn after everything else, so that adding them changed no earlier record:
  // the kitchens (sections without tables), and shawarma in sizes under «Горячие блюда».
  for (const name of KITCHENS) world.sections.push({ id: rng.guid(), name, kind: 'kitchen' });
  const hot = world.groups.find((g) => g.name === 'Горячие блюда');
  if (hot) walk(SHAWARMA, hot.id, 'Горячий цех', 15, false, 3);
}

/** An item input for a product: weight goods get a fractional amount. */
export function pickItem(world: World, p: ProductRec): ItemInput {
  const amount = p.byWeight ? world.rng.int(6, 15) / 10 : world.rng.chance(0.2) ? 2 : 1;
  return { productCode: p.code, amount };
}

