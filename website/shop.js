/*
 * Trailhead Supply, the demo shop: a single-page store with hash routes (#/ products,
 * #/product/<id>, #/cart, #/checkout, #/order/<id>, #/login) that uses tracker.js the way a
 * real site embeds it: page views and clicks on data-track elements come from the tracker
 * itself, the shop adds only the commerce events (add_to_cart, checkout, purchase) and the
 * login, and asks for consent before anything is recorded.
 */
(function () {
  "use strict";

  const CURRENCY = "EUR";
  const SHIPPING = {
    standard: { label: "Standard, 3–5 days", cents: 0 },
    express: { label: "Express, next day", cents: 690 },
  };
  const money = new Intl.NumberFormat("en-IE", { style: "currency", currency: CURRENCY });
  const price = (cents) => money.format(cents / 100);
  const itemCount = (n) => `${n} item${n === 1 ? "" : "s"}`;

  const art = (background, shapes) =>
    `<svg viewBox="0 0 160 120" role="img" aria-hidden="true"><rect width="160" height="120" fill="${background}"/>${shapes}</svg>`;

  const PRODUCTS = [
    {
      id: "trail-mug", name: "Trail Mug", cents: 1400,
      tagline: "Enamel camp mug, 350 ml.",
      description: "Steel with a glass-hard enamel coat: campfire coffee, soup and a toothbrush cup.",
      image: art("#fde8d7", '<path d="M54 40h44v40a12 12 0 0 1-12 12H66a12 12 0 0 1-12-12z" fill="#d35400"/>'
        + '<path d="M98 50h7a11 11 0 0 1 0 22h-7" fill="none" stroke="#d35400" stroke-width="7"/>'
        + '<ellipse cx="76" cy="40" rx="22" ry="5" fill="#a84300"/>'
        + '<path d="M68 18c-5 6 5 9 0 15M84 16c-5 6 5 9 0 15" fill="none" stroke="#c9a98e" stroke-width="3" stroke-linecap="round"/>'),
    },
    {
      id: "canvas-tote", name: "Canvas Tote", cents: 2200,
      tagline: "Waxed canvas, carries 15 kg.",
      description: "A market bag that doubles as a day pack: waxed cotton canvas, leather handles.",
      image: art("#e9efe1", '<path d="M66 50c0-20 28-20 28 0" fill="none" stroke="#7c6a3c" stroke-width="5"/>'
        + '<path d="M48 50h64l-7 48H55z" fill="#cdb98a"/><path d="M62 70h36" stroke="#5f8a55" stroke-width="6"/>'),
    },
    {
      id: "wool-beanie", name: "Wool Beanie", cents: 2800,
      tagline: "Merino rib knit.",
      description: "Soft merino that stays warm when damp and never itches. One size.",
      image: art("#e3eaf6", '<path d="M46 80a34 34 0 0 1 68 0z" fill="#3b6fb6"/>'
        + '<path d="M62 52v26M80 46v32M98 52v26" stroke="#2f5b9a" stroke-width="4"/>'
        + '<rect x="42" y="76" width="76" height="16" rx="6" fill="#2b5394"/><circle cx="80" cy="40" r="9" fill="#f3f3f3"/>'),
    },
    {
      id: "field-notebook", name: "Field Notebook", cents: 950,
      tagline: "Waterproof paper, A6.",
      description: "Write in the rain: 96 pages of stone paper and a band that keeps it shut.",
      image: art("#f4efe2", '<rect x="56" y="22" width="50" height="76" rx="4" fill="#2f3e46"/>'
        + '<rect x="94" y="22" width="5" height="76" fill="#e07a5f"/><rect x="64" y="36" width="24" height="8" rx="2" fill="#cad2c5"/>'),
    },
    {
      id: "steel-bottle", name: "Steel Bottle", cents: 2400,
      tagline: "Insulated, 750 ml.",
      description: "Keeps water cold for a day and tea hot for a morning. Dishwasher safe.",
      image: art("#dff2f0", '<rect x="68" y="14" width="24" height="12" rx="3" fill="#455a64"/>'
        + '<path d="M62 34q0-8 8-8h20q8 0 8 8v58q0 8-8 8H70q-8 0-8-8z" fill="#26a69a"/><rect x="62" y="52" width="36" height="18" fill="#80cbc4"/>'),
    },
    {
      id: "crew-socks", name: "Crew Socks", cents: 1200,
      tagline: "Cushioned, two pairs.",
      description: "Hiking socks with a cushioned sole and a heel that stays put for twenty miles.",
      image: art("#fbe9ee", '<path d="M62 18h22v50l14 12a10 10 0 0 1-8 18H74a14 14 0 0 1-12-6z" fill="#c2185b"/>'
        + '<rect x="62" y="18" width="22" height="10" fill="#f8bbd0"/><path d="M62 86q10 8 22 12" stroke="#f8bbd0" stroke-width="4" fill="none"/>'),
    },
  ];
  const byId = new Map(PRODUCTS.map((p) => [p.id, p]));

  /** Shop state (cart, signed-in user, past orders) is the site's own, apart from the
   *  tracker's storage: the cart is needed for the shop to work, consent or not. */
  const saved = {
    read(key, fallback) {
      try {
        return JSON.parse(localStorage.getItem(`shop.${key}`)) ?? fallback;
      } catch {
        return fallback;
      }
    },
    write(key, value) {
      try {
        localStorage.setItem(`shop.${key}`, JSON.stringify(value));
      } catch {
        toast("This browser does not let the shop save its cart.");
      }
    },
    remove: (key) => localStorage.removeItem(`shop.${key}`),
  };

  const escapeHtml = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const view = document.getElementById("view");
  const apiUrl = /^https?:\/\//.test(window.CLICKSTREAM_API_URL || "") ? window.CLICKSTREAM_API_URL : null;
  let tracker = null;

  function cartLines() {
    const cart = saved.read("cart", {});
    return Object.entries(cart)
      .filter(([id, quantity]) => byId.has(id) && quantity > 0)
      .map(([id, quantity]) => ({ product: byId.get(id), quantity, cents: byId.get(id).cents * quantity }));
  }

  function cartTotals(lines, shipping = "standard") {
    const subtotal = lines.reduce((sum, line) => sum + line.cents, 0);
    const items = lines.reduce((sum, line) => sum + line.quantity, 0);
    const shippingCents = lines.length ? SHIPPING[shipping].cents : 0;
    return { subtotal, items, shippingCents, total: subtotal + shippingCents };
  }

  function setCart(cart) {
    saved.write("cart", cart);
    updateHeader();
  }

  let toastTimer = null;
  function toast(message) {
    const box = document.getElementById("toast");
    box.textContent = message;
    box.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { box.hidden = true; }, 2200);
  }

  function updateHeader() {
    document.getElementById("cart-count").textContent = String(cartTotals(cartLines()).items);
    const user = saved.read("user", null);
    document.getElementById("account").innerHTML = user
      ? `<span class="user">Hi, ${escapeHtml(user)}</span>
         <button type="button" class="link" id="sign-out" data-action="logout" data-track="logout">Sign out</button>`
      : '<a href="#/login" id="nav-login" data-track="nav-login">Sign in</a>';
  }

  const addButton = (product, extra = "") =>
    `<button type="button" class="btn ${extra}" data-action="add" data-product="${product.id}"
      data-track="add-to-cart" data-track-product-id="${product.id}">Add to cart</button>`;

  const views = {
    list() {
      const cards = PRODUCTS.map((p) => `
        <article class="card">
          <a class="card-link" href="#/product/${p.id}" data-track="product-card" data-track-product-id="${p.id}">
            ${p.image}<h3>${p.name}</h3>
          </a>
          <p class="muted">${p.tagline}</p>
          <div class="card-foot"><span class="price">${price(p.cents)}</span>${addButton(p)}</div>
        </article>`).join("");
      return {
        title: "Trailhead Supply",
        html: `<section class="hero"><h1>Gear for small adventures</h1>
          <p>Six well-made things for a weekend outside. Every view and marked click here is an
          event on its way to the lakehouse: watch the panel.</p></section>
          <div class="grid">${cards}</div>`,
      };
    },

    product(id) {
      const p = byId.get(id);
      if (!p) return views.missing();
      const options = [1, 2, 3, 4, 5].map((n) => `<option>${n}</option>`).join("");
      return {
        title: `${p.name} · Trailhead Supply`,
        html: `<nav class="crumbs"><a href="#/" data-track="back-to-shop">← All products</a></nav>
          <div class="product">
            <div class="product-image">${p.image}</div>
            <div class="product-info">
              <h1>${p.name}</h1>
              <p class="price big">${price(p.cents)}</p>
              <p>${p.description}</p>
              <label class="qty">Quantity <select id="quantity">${options}</select></label>
              ${addButton(p, "primary")}
            </div>
          </div>`,
      };
    },

    cart() {
      const lines = cartLines();
      if (!lines.length) {
        return {
          title: "Cart · Trailhead Supply",
          html: '<h1>Your cart</h1><p class="empty">Your cart is empty. <a href="#/" data-track="empty-cart-shop">Find something</a>.</p>',
        };
      }
      const totals = cartTotals(lines);
      const rows = lines.map(({ product, quantity, cents }) => `
        <li class="line">
          <span class="thumb">${product.image}</span>
          <a href="#/product/${product.id}" data-track="cart-product" data-track-product-id="${product.id}">${product.name}</a>
          <span class="stepper">
            <button type="button" class="icon" data-action="decrease" data-product="${product.id}" aria-label="One less">−</button>
            <span>${quantity}</span>
            <button type="button" class="icon" data-action="increase" data-product="${product.id}" aria-label="One more">+</button>
          </span>
          <span class="price">${price(cents)}</span>
        </li>`).join("");
      return {
        title: "Cart · Trailhead Supply",
        html: `<h1>Your cart</h1><ul class="lines">${rows}</ul>
          <div class="summary"><span>Subtotal (${itemCount(totals.items)})</span><strong>${price(totals.subtotal)}</strong></div>
          <div class="actions"><a href="#/" data-track="keep-shopping">Keep shopping</a>
            <button type="button" class="btn primary" id="checkout" data-action="checkout" data-track="checkout">Checkout</button></div>`,
      };
    },

    checkout() {
      const lines = cartLines();
      if (!lines.length) return views.cart();
      const totals = cartTotals(lines);
      const choices = Object.entries(SHIPPING).map(([key, option], i) => `
        <label class="choice"><input type="radio" name="shipping" value="${key}" ${i ? "" : "checked"}>
          <span>${option.label}</span><span class="muted">${option.cents ? price(option.cents) : "free"}</span></label>`).join("");
      return {
        title: "Checkout · Trailhead Supply",
        html: `<h1>Checkout</h1>
          <form id="checkout-form" class="checkout">
            <fieldset><legend>Shipping</legend>${choices}</fieldset>
            <fieldset><legend>Payment</legend><p class="muted">A demo shop: no payment is taken.</p></fieldset>
            <div class="summary"><span>${itemCount(totals.items)}</span><strong id="order-total">${price(totals.total)}</strong></div>
            <button type="submit" class="btn primary" id="place-order" data-track="place-order">Place order</button>
          </form>`,
      };
    },

    order(id) {
      const order = saved.read("orders", {})[id];
      if (!order) return views.missing();
      return {
        title: "Thank you · Trailhead Supply",
        html: `<div class="confirm">
            <svg viewBox="0 0 48 48" aria-hidden="true"><circle cx="24" cy="24" r="22" fill="#2e7d5b"/><path d="m14 25 7 7 13-15" fill="none" stroke="#fff" stroke-width="4"/></svg>
            <h1>Thank you!</h1>
            <p>Order <strong id="order-id">${escapeHtml(id)}</strong> is confirmed: ${itemCount(order.items)}, ${price(order.cents)}.</p>
            <a class="btn" href="#/" id="continue-shopping" data-track="continue-shopping">Continue shopping</a>
          </div>`,
      };
    },

    login() {
      const user = saved.read("user", null);
      return {
        title: "Sign in · Trailhead Supply",
        html: user
          ? `<h1>Signed in</h1><p>You are signed in as <strong>${escapeHtml(user)}</strong>.</p>`
          : `<form id="login-form" class="login">
              <h1>Sign in</h1>
              <label>Username <input id="username" name="username" autocomplete="username" required
                pattern="[A-Za-z0-9_.\\-]{1,64}" placeholder="e.g. ada"></label>
              <label>Password <input id="password" type="password" autocomplete="current-password" placeholder="any password works"></label>
              <button type="submit" class="btn primary" id="sign-in" data-track="login-submit">Sign in</button>
              <p class="muted">Demo accounts are not checked: the username becomes the tracker's user_id.</p>
            </form>`,
      };
    },

    missing() {
      return { title: "Not found · Trailhead Supply", html: '<h1>Not found</h1><p><a href="#/">Back to the shop</a></p>' };
    },
  };

  function render() {
    const [route, argument] = location.hash.replace(/^#\/?/, "").split("/");
    const page = (views[route || "list"] || views.missing)(argument && decodeURIComponent(argument));
    document.title = page.title;
    view.innerHTML = page.html;
    updateHeader();
    view.focus({ preventScroll: true });
    window.scrollTo(0, 0);
  }

  function addToCart(id, quantity) {
    const product = byId.get(id);
    const cart = saved.read("cart", {});
    cart[id] = (cart[id] || 0) + quantity;
    setCart(cart);
    const totals = cartTotals(cartLines());
    tracker.track("add_to_cart", {
      product_id: id, product_name: product.name, price: product.cents / 100, quantity,
      currency: CURRENCY, cart_items: totals.items, cart_value: totals.subtotal / 100,
    });
    toast(`${product.name} added to your cart`);
  }

  function changeQuantity(id, delta) {
    const cart = saved.read("cart", {});
    cart[id] = Math.max(0, (cart[id] || 0) + delta);
    if (!cart[id]) delete cart[id];
    setCart(cart);
    render();
  }

  function startCheckout() {
    const lines = cartLines();
    const totals = cartTotals(lines);
    tracker.track("checkout", {
      value: totals.subtotal / 100, currency: CURRENCY, items: totals.items,
      products: lines.map((line) => line.product.id).join(","),
    });
    location.hash = "#/checkout";
  }

  function placeOrder(form) {
    const shipping = new FormData(form).get("shipping");
    const lines = cartLines();
    const totals = cartTotals(lines, shipping);
    const orderId = `ORD-${crypto.getRandomValues(new Uint32Array(1))[0].toString(36).toUpperCase()}`;
    const orders = saved.read("orders", {});
    orders[orderId] = { items: totals.items, cents: totals.total };
    saved.write("orders", orders);
    tracker.track("purchase", {
      order_id: orderId, value: totals.total / 100, currency: CURRENCY, items: totals.items,
      shipping, shipping_value: totals.shippingCents / 100,
      products: lines.map((line) => line.product.id).join(","),
    });
    setCart({});
    location.hash = `#/order/${orderId}`;
  }

  function signIn(form) {
    const username = new FormData(form).get("username").trim();
    tracker.identify(username);
    tracker.track("custom:login", { method: "password" });
    saved.write("user", username);
    location.hash = "#/";
  }

  function signOut() {
    tracker.track("custom:logout");
    tracker.reset();
    saved.remove("user");
    updateHeader();
    toast("Signed out: the next events belong to a new anonymous visitor.");
  }

  function showConsent(visible) {
    document.getElementById("consent").hidden = !visible;
  }

  const actions = {
    add: (button) => {
      const quantity = document.getElementById("quantity");
      addToCart(button.dataset.product, quantity ? Number(quantity.value) : 1);
    },
    increase: (button) => changeQuantity(button.dataset.product, 1),
    decrease: (button) => changeQuantity(button.dataset.product, -1),
    checkout: startCheckout,
    logout: signOut,
    privacy: () => showConsent(true),
    "consent-accept": () => {
      tracker.setConsent(true);
      showConsent(false);
    },
    "consent-decline": () => {
      tracker.setConsent(false);
      showConsent(false);
      toast("Tracking is off. Privacy settings at the bottom change it.");
    },
  };

  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-action]");
    if (button && actions[button.dataset.action]) actions[button.dataset.action](button);
  });
  document.addEventListener("submit", (event) => {
    const handlers = { "checkout-form": placeOrder, "login-form": signIn };
    if (handlers[event.target.id]) {
      event.preventDefault();
      handlers[event.target.id](event.target);
    }
  });
  window.addEventListener("hashchange", render);

  render();
  tracker = window.Clickstream.init({ apiUrl, requireConsent: true, batchSize: 10, flushIntervalMs: 1000 });
  window.ClickstreamPanel.attach(tracker, document.getElementById("pipeline"), apiUrl);
  showConsent(tracker.consent() === "pending");
})();
