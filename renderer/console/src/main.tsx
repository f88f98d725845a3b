import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './app.tsx';
import '../../src/style.css';
import './console.css';

createRoot(document.getElementById('root')!).render(<StrictMode><App /></StrictMode>);
